"""Sync's throughput: the outbox drained after an outage, the hub's ingest, batches applied down.

    .venv/bin/python bench/sync_flow.py                         # 10 000 events, 200 batches
    .venv/bin/python bench/sync_flow.py --events 2000 --batches 50

Real parts, as on a site: Debian's Mosquitto on a free loopback port, a `gate hub` process and a
device's `gate sync` process, each with its own files.

- **Outage drained**: the device made `--events` committed redemptions while its link to the
  broker was cut (a TCP relay between them, as in the tests); the link is restored, and from
  the device's sync being connected again, the time runs until the hub has confirmed
  every row (the device's outbox is empty): the device reading its journal, publishing, the
  broker, the hub storing each message in one transaction and publishing its mark, the device
  letting the rows go. The hub's **ingest rate** is the events it stored per second meanwhile, and
  its **resident memory** (VmRSS) is read at the end.
  Baseline: the same events stored by the hub's store in this process (no broker, no process):
  what storing alone costs.
- **Batches down**: `--batches` batches of 50 records each appended to the hub's log (as
  `gate hub publish` does); the running hub publishes them and the device applies each in
  order (checked, signed, imported all or nothing). Batches per second, from the first append
  to the device's applied seq reaching the last.
  Baseline: the same batches applied to a fresh ledger in this process (`apply_batch`).

Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from gate.cache import Ledger  # noqa: E402
from gate.cache.exchange import HEADER  # noqa: E402
from gate.config import load_config  # noqa: E402
from gate.engine import Engine  # noqa: E402
from gate.hub.publish import signed  # noqa: E402
from gate.hub.store import SqliteHubStore  # noqa: E402
from gate.sync.batches import apply_batch  # noqa: E402
from gate.sync.outbox import event_of  # noqa: E402
from gate.sync.payloads import Events  # noqa: E402
from tests.configs import config_text  # noqa: E402
from tests.sync.broker import Broker  # noqa: E402
from tests.sync.relay import Relay  # noqa: E402

SITE = "bench"


def _tickets(first: int, count: int) -> list[str]:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return [json.dumps({"type": "entitlement", "kind": "ticket", "id": f"t-{n}", "version": 1, "day": today,
                        "references": [f"T{n}"]}) for n in range(first, first + count)]  # fmt: skip


def _until(condition: Callable[[], bool], what: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.01)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start(verb: str, config: Path, work: Path) -> subprocess.Popen[bytes]:
    log = (work / f"{config.stem}-{verb}.log").open("wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "gate", verb, "--config", str(config)], stdout=log,
                            stderr=subprocess.STDOUT, cwd=ROOT, env=env)  # fmt: skip


def _outage(work: Path, engine: Engine, ledger: Ledger, count: int) -> None:
    for n in range(count):
        held = engine.admit(f"T{n}", lane="l1", at=dt.datetime.now(dt.UTC))
        assert held.redemption is not None, held.decision
        engine.commit(held.redemption, at=dt.datetime.now(dt.UTC))


def _store_floor(work: Path, ledger: Ledger) -> float:
    """The same rows stored by a hub store in this process, in messages of 200: seconds."""
    rows = [event_of(entry) for entry in ledger.journal(limit=10**7)]
    store = SqliteHubStore(work / "floor.sqlite")
    start = time.perf_counter()
    for i in range(0, len(rows), 200):
        store.add(Events(v=1, device="d1", incarnation="0" * 16, floor=0, events=rows[i : i + 200]))
    took = time.perf_counter() - start
    store.close()
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="redemptions made during the outage")
    parser.add_argument("--batches", type=int, default=200, help="batches of 50 records sent down")
    args = parser.parse_args()
    broker = Broker(persistence=False)
    broker.start()
    work = Path(tempfile.mkdtemp(prefix="gate-bench-syncflow-"))
    processes: list[subprocess.Popen[bytes]] = []
    key = Ed25519PrivateKey.generate()
    (work / "hub.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))  # fmt: skip
    (work / "hub.key").chmod(0o600)
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    sync = {"site": SITE, "port": broker.port, "ledger_keys": {"hub": public}}
    hub_config, device_config = work / "hub.toml", work / "d1.toml"
    hub_config.write_text(config_text({"ledger": {"path": "unused.sqlite"}, "sync": sync,
                                       "hub": {"store": "hub.sqlite", "ledger_key_file": "hub.key"}}))  # fmt: skip
    relay = Relay(broker.port)
    device_config.write_text(config_text({"ledger": {"path": "d1.sqlite"}, "device": {"id": "d1"},
                                          "sync": {**sync, "port": relay.port, "reconnect_max_s": 1}}))  # fmt: skip
    ledger = Ledger.open(work / "d1.sqlite")
    try:
        ledger.import_lines([HEADER, *_tickets(0, args.events)], source="bench")
        processes.append(_start("hub", hub_config, work))
        processes.append(_start("sync", device_config, work))
        _until(lambda: "connected to" in (work / "d1-sync.log").read_text(), "the device connected", 30)
        relay.cut()
        _until(lambda: ledger.setting("sync.link") == "down", "the device cut off", 30)
        _outage(work, Engine(ledger, load_config(device_config)), ledger, args.events)
        rows = len(ledger.journal(limit=10**7))
        floor_s = _store_floor(work, ledger)
        outbox = ledger.outbox()
        restored = time.perf_counter()
        relay.restore()
        # The reconnection (its backoff, a connection attempt under way) is not the drain: timed apart.
        _until(lambda: ledger.setting("sync.link") == "up", "the device back", 60)
        start = time.perf_counter()
        _until(lambda: outbox.depth() == 0 and outbox.floor() >= rows, "the outbox drained")
        drained_s = time.perf_counter() - start
        back_s = start - restored
        hub_rss = _rss_mb(processes[0].pid)

        # Batches down: appended to the hub's log as `gate hub publish` does; the running hub sends them.
        texts = ["\n".join([HEADER, *_tickets(args.events + 50 * b, 50)]) + "\n" for b in range(args.batches)]
        store = SqliteHubStore(work / "hub.sqlite")
        start = time.perf_counter()
        made = [store.append(functools.partial(signed, SITE, text, "hub", key)) for text in texts]
        store.close()
        last = made[-1].seq
        _until(lambda: int(ledger.setting("sync.batch_seq") or 0) >= last, "the batches applied")
        down_s = time.perf_counter() - start
        with Ledger.open(work / "floor-ledger.sqlite") as fresh:
            start = time.perf_counter()
            for batch in made:
                done = apply_batch(fresh, SITE, batch, {"hub": public})
                assert done.outcome == "applied", done
            apply_s = time.perf_counter() - start

        print(f"Mosquitto on 127.0.0.1:{broker.port}; a gate hub and a gate sync process")
        print(f"{'path':<58} {'seconds':>8} {'per second':>11}")
        figures = (
            (f"outage of {rows} journal rows drained (hub confirmed all)", drained_s, rows / drained_s),
            ("baseline: the same rows stored by the hub's store alone", floor_s, rows / floor_s),
            (f"{args.batches} batches of 50 records applied at the device", down_s, args.batches / down_s),
            ("baseline: the same batches applied in process", apply_s, args.batches / apply_s),
        )
        for name, seconds, rate in figures:
            print(f"{name:<58} {seconds:8.2f} {rate:11.0f}")
        print(f"drain / store alone: {drained_s / floor_s:.1f}x; batches down / in process: {down_s / apply_s:.1f}x")
        print(f"hub resident memory after ingest: {hub_rss:.0f} MB; the link back {back_s:.1f} s after the cable "
              "(a connection attempt under way, then the backoff: not in the drain)")
        return 0
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        ledger.close()
        relay.close()
        broker.close()


if __name__ == "__main__":
    raise SystemExit(main())
