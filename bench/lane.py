"""Time from a read entering `DecisionPoint.decide` to the relay pin going active, beside the bare engine.

    .venv/bin/python bench/lane.py                  # 10 000 reads
    .venv/bin/python bench/lane.py --reads 2000
    .venv/bin/python bench/lane.py --log null       # with the daemon's INFO logging (or --log pipe)
    .venv/bin/python bench/lane.py --metrics        # blocks of reads with the daemon's metrics on and off

A ledger of day tickets (one per read, and as many for the bare engine) is imported through
the exchange format. A real `DecisionPoint` with its `Turnstile` runs on
gpiozero mock pins (`gate.turnstile.mock.WiredPin`, which stamps every change of level with
`time.monotonic()`): each sample hands one read to `DecisionPoint.decide`, takes the relay
pin's first change to active after the call started, then drives the passage sensor like
the turnstile arm would, so every passage commits. In the same run, once the point has
stopped (so nobody borrows its ledger thread), on a thread of the bench's own and the same
connection (so without the thread hop the lane pays), it times the bare `Engine.decide` (no
record) and `Engine.admit` (decide + hold, the part of the lane's path that is the ledger's).
A second connection would pay for catching up with the other's commits at every sample.
Untimed between samples: the passage's commit, and the checkpoint the daemon asks of the
point when the lane is idle. Prints p50/p99 in microseconds and the lane's added time.
With `--log` it logs as the daemon does (its format, at INFO): into /dev/null, which
measures what the lines themselves cost, or into a pipe read by another process, as
journald reads the daemon's stdout. With `--metrics`, blocks of 100 reads alternate between
the lane as it is and the lane with `[metrics] daemon` on (gate/metrics/lane.py: its watcher
subscribed to the point's events, each answered read observed after decide returns), so both
meet the same machine; each is printed. Figures go to docs/lane.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

from gate.cache import Ledger
from gate.cli.run import LOG_FORMAT
from gate.config import parse_config
from gate.engine import Engine, Outcome
from gate.metrics.lane import LaneMetrics
from gate.point import DecisionPoint
from gate.scanner.read import Read
from gate.turnstile import Turnstile
from gate.turnstile.mock import mock_factory, wired

TZ = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 6, 15, 14, 0, tzinfo=TZ)
AT = NOW.astimezone(dt.UTC)  # the same instant as a lane's clock gives it
RELAY, SENSOR = 17, 27
CONFIG = """
[site]
name = "Bench"
timezone = "Europe/Paris"
[zones.main]
name = "Main"
[lanes.l1]
zone = "main"
directions = ["entry"]
[ledger]
path = "{path}"
[turnstile]
pin_factory = "mock"
pulse_ms = 20
debounce_ms = 0
[turnstile.entry]
relay = 17
sensor = 27
[turnstile.lamps]
green = 24
red = 25
amber = 12
"""


def ticket_lines(count: int) -> Iterator[str]:
    yield json.dumps({"type": "header", "format": "gate-ledger", "version": 1})
    for i in range(count):
        yield json.dumps({"type": "entitlement", "kind": "ticket", "id": f"t{i}", "version": 1,
                          "day": NOW.date().isoformat(), "references": [f"T{i:07d}"]})  # fmt: skip


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def metered(stack: contextlib.AsyncExitStack, point: DecisionPoint, metrics: LaneMetrics) -> None:
    """The daemon's metrics on the point, as `LaneMetrics.serving` puts them (its idle HTTP site aside)."""
    events = await stack.enter_async_context(point.subscribe())
    watcher = asyncio.create_task(metrics.watch(events))
    stack.callback(watcher.cancel)


async def measure(engine: Engine, config_text: str, reads: int, *, metrics: bool = False) -> dict[str, list[float]]:
    config = parse_config(config_text)
    bench_thread = ThreadPoolExecutor(1, thread_name_prefix="bench-bare")
    loop = asyncio.get_running_loop()

    async def on_bench_thread(call: Callable[[], float]) -> float:
        return await loop.run_in_executor(bench_thread, call)

    bare = engine  # used from the bench's thread only once the point has stopped
    # A 1 ms pulse (below what a turnstile needs, so not allowed in a config file): each
    # sample waits for the pulse to end, and 10 000 of the default 200 ms would take minutes.
    assert config.turnstile is not None
    config = config.model_copy(update={"turnstile": config.turnstile.model_copy(update={"pulse_ms": 1})})
    factory = mock_factory()
    relay, sensor = wired(factory, RELAY), wired(factory, SENSOR)
    point = DecisionPoint(engine=engine, lanes=["l1"], clock=lambda: AT)
    assert config.turnstile is not None
    turnstile = Turnstile(point=point, lane_id="l1", config=config.turnstile, pin_factory=factory)
    results: dict[str, list[float]] = {"lane": [], "decide": [], "admit": [], "metrics": []}
    lane_metrics = LaneMetrics("l1", listen="127.0.0.1:0")

    def bare_decide(code: str) -> float:
        start = time.perf_counter()
        bare.decide(code, lane="l1", at=AT)
        return time.perf_counter() - start

    def bare_admit(code: str) -> float:
        start = time.perf_counter()
        outcome = bare.admit(code, lane="l1", at=AT)
        took = time.perf_counter() - start
        assert outcome.redemption is not None, outcome.decision
        bare.release(outcome.redemption, at=AT, why="bench")  # untimed: the ticket stays usable
        return took

    async with point, turnstile:
        block = contextlib.AsyncExitStack()
        for i in range(reads):
            on = metrics and (i // 100) % 2 == 1
            if i % 100 == 0:  # untimed: the next block, with the metrics or without
                await block.aclose()
                block = contextlib.AsyncExitStack()
                if on:
                    await metered(block, point, lane_metrics)
            code = f"T{i:07d}"
            read = Read(code, None, "bench", "entry")
            start = time.monotonic()
            outcome = await point.decide(read, lane="l1")
            if on:
                lane_metrics.answered(read, outcome)  # as the daemon's _decide does
            assert isinstance(outcome, Outcome) and outcome.decision.admits, outcome
            opened = relay.first_change(True, start)
            assert opened is not None
            results["metrics" if on else "lane"].append(opened - start)
            # The visitor goes through; the lane commits in the background.
            sensor.drive_low()
            sensor.drive_high()
            await point.settle("l1")
            while relay.state:  # the pulse ends by itself
                await asyncio.sleep(0.001)
            relay.changes.clear()
            await point.checkpoint()
        await block.aclose()
    # Same run, same connection, the point stopped: the bare engine.
    for i in range(reads):
        other = f"T{reads + i:07d}"  # tickets the lane never saw
        results["decide"].append(await on_bench_thread(lambda other=other: bare_decide(other)))  # type: ignore[misc]
        results["admit"].append(await on_bench_thread(lambda other=other: bare_admit(other)))  # type: ignore[misc]
        if i % 50 == 0:
            await on_bench_thread(lambda: float(bare.ledger.checkpoint()))
    committed = await on_bench_thread(lambda: len(bare.ledger.journal(limit=reads * 4)))
    bench_thread.shutdown()
    factory.close()
    print(f"journal rows: {committed}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=10_000)
    parser.add_argument(
        "--log", choices=("null", "pipe"),
        help="log at INFO in the daemon's format: into /dev/null (what the lines cost), or into a pipe "
        "another process reads (as journald reads the daemon's stdout)",
    )  # fmt: skip
    parser.add_argument("--metrics", action="store_true", help="alternate blocks of reads with the metrics on and off")
    args = parser.parse_args()
    if args.log == "pipe":
        journald = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        logging.basicConfig(level="INFO", stream=journald.stdin, format=LOG_FORMAT, force=True)
    elif args.log == "null":
        logging.basicConfig(level="INFO", stream=Path(os.devnull).open("w"), format=LOG_FORMAT, force=True)  # noqa: SIM115
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        config_text = CONFIG.format(path=path)
        with Ledger.open(path) as ledger:
            started = time.perf_counter()
            # One ticket per lane read, and as many for the bare engine's samples.
            ledger.import_lines(ticket_lines(2 * args.reads), source="bench")
            print(f"imported {2 * args.reads} day tickets in {time.perf_counter() - started:.2f} s")
            engine = Engine(ledger, parse_config(config_text))
            started = time.perf_counter()
            results = asyncio.run(measure(engine, config_text, args.reads, metrics=args.metrics))
            print(f"{args.reads} reads in {time.perf_counter() - started:.1f} s")
    us = {name: [s * 1e6 for s in samples] for name, samples in results.items()}
    rows = [
        ("read -> relay active (DecisionPoint.decide)", us["lane"]),
        *([("  the same, [metrics] daemon on", us["metrics"])] if us["metrics"] else []),
        ("bare Engine.decide", us["decide"]),
        ("bare Engine.admit (decide + hold)", us["admit"]),
    ]
    print(f"{'path':44} {'p50 us':>9} {'p99 us':>9}")
    for name, samples in rows:
        p50, p99 = percentiles(samples)
        print(f"{name:44} {p50:9.0f} {p99:9.0f}")
    lane50, lane99 = percentiles(us["lane"])
    decide50, decide99 = percentiles(us["decide"])
    admit50, admit99 = percentiles(us["admit"])
    print(f"added by the lane over Engine.decide: p50 {lane50 - decide50:.0f} us, p99 {lane99 - decide99:.0f} us")
    print(f"added by the lane over Engine.admit:  p50 {lane50 - admit50:.0f} us, p99 {lane99 - admit99:.0f} us")
    verdict = "met" if (lane99 - decide99) < 5000 else "MISSED"
    print(f"target: under 5 ms p99 added over the bare decision: {verdict}")


if __name__ == "__main__":
    main()
