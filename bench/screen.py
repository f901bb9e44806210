"""Time from a read entering the device to its result painted on the visitor screen, beside the decision alone.

    .venv/bin/python bench/screen.py                  # 500 reads
    .venv/bin/python bench/screen.py --reads 100
    .venv/bin/python bench/screen.py --from-idle      # each read meets the idle screen (1.5 s apart)

One process, one asyncio loop: a ledger of day tickets imported through the exchange format
(as bench/lane.py builds it), a real `DecisionPoint` with its `Turnstile` on gpiozero mock
pins, the lane's `gate.display.DisplayServer` on a free loopback port, and Debian's Chromium
(headless, 1024x600) driven by Playwright's async API, showing the visitor page.

Each sample notes `time.monotonic()` before `await point.decide(read, lane=...)`: the read
entering the device (a real reader adds its own time before that: the scanner's decoding and
its serial or USB line). It then waits for the page's paint report for that decision id: the
page stamps the message's arrival, paints the result, and in the next animation frame sends
back `painted` with the milliseconds in between; the daemon keeps it (`display.paints`) and
logs it at DEBUG. A logging handler on `gate.display` stamps that log line with
`time.monotonic()`, so no polling loop competes with the browser for the two cores.

- **read -> painted** = the paint report's arrival at the daemon - the read. All on one clock,
  and an upper bound: it also holds the report's own way back over the websocket.
- **decision alone** = the time `DecisionPoint.decide` took (journaled, held, the relay pulsed):
  the baseline, from the same samples.
- Its parts: the decision; the event's wait for the display's sender (`queued`, the daemon's
  own figure up to the message leaving); the page's receipt -> frame (its own report); the rest
  is the websocket both ways and Chromium's IPC, which neither side can time alone.

Each admit then finishes: the bench drives the passage sensor as the turnstile arm would, waits
for the commit (untimed), and the next read comes. By default the next result replaces the
previous one on the screen (its passage over, its short linger not yet); `--from-idle` waits
for the page to show idle first, as it does between visitors spaced more than 1.5 s apart.
Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

from lane import AT, CONFIG, RELAY, SENSOR, percentiles, ticket_lines
from playwright.async_api import async_playwright

from gate.cache import Ledger
from gate.config import parse_config
from gate.display import DisplayServer
from gate.display.screen import Paint
from gate.engine import Engine, Outcome
from gate.point import DecisionPoint
from gate.scanner.read import Read
from gate.turnstile import Turnstile
from gate.turnstile.mock import mock_factory, wired

CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads a browser here
# As the browser tests launch it (tests/browser.py): no sandbox (root, no unprivileged user),
# no GPU, none of Chromium's background connections.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1024, "height": 600}
PAINT_TIMEOUT_S = 10.0
IDLE = '#screen[data-screen="normal"]'  # a selector: the page's CSP allows no eval


class PaintArrivals(logging.Handler):
    """Stamps the display's "painted" log line (written as the report is kept) with `time.monotonic()`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.last = 0.0
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and " painted " in record.msg:
            self.last = time.monotonic()
            self.arrived.set()


async def painted(display: DisplayServer, arrivals: PaintArrivals, decision_id: str) -> tuple[Paint, float]:
    """The page's paint report of `decision_id`, and when it reached the daemon (monotonic)."""
    deadline = time.monotonic() + PAINT_TIMEOUT_S
    while True:
        for paint in reversed(display.paints):
            if paint.decision_id == decision_id:
                return paint, arrivals.last
        arrivals.arrived.clear()
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"no paint report for decision {decision_id} within {PAINT_TIMEOUT_S:.0f} s")
        try:
            await asyncio.wait_for(arrivals.arrived.wait(), left)
        except TimeoutError:
            continue


async def measure(engine: Engine, config_text: str, reads: int, *, from_idle: bool) -> dict[str, list[float]]:
    config = parse_config(config_text)
    # A 1 ms pulse, as bench/lane.py: each sample waits for the pulse to end.
    assert config.turnstile is not None
    config = config.model_copy(update={"turnstile": config.turnstile.model_copy(update={"pulse_ms": 1})})
    assert config.turnstile is not None
    factory = mock_factory()
    relay, sensor = wired(factory, RELAY), wired(factory, SENSOR)
    point = DecisionPoint(engine=engine, lanes=["l1"], clock=lambda: AT)
    turnstile = Turnstile(point=point, lane_id="l1", config=config.turnstile, pin_factory=factory)
    arrivals = PaintArrivals()
    display_log = logging.getLogger("gate.display")
    display_log.setLevel(logging.DEBUG)
    display_log.addHandler(arrivals)
    display_log.propagate = False
    results: dict[str, list[float]] = {"screen": [], "decide": [], "queued": [], "page": [], "rest": []}
    async with point, turnstile, DisplayServer(point=point, lane="l1", port=0) as display, async_playwright() as pw:
        started = time.perf_counter()
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            print(f"Chromium {browser.version} started in {time.perf_counter() - started:.1f} s")
            page = await browser.new_page(viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]})
            await page.goto(display.url)
            await page.wait_for_selector(IDLE, state="attached")
            for i in range(reads):
                read = Read(f"T{i:07d}", None, "bench", "entry")
                start = time.monotonic()
                outcome = await point.decide(read, lane="l1")
                decided = time.monotonic()
                assert isinstance(outcome, Outcome) and outcome.decision.admits, outcome
                assert outcome.decision_id is not None
                paint, arrived = await painted(display, arrivals, outcome.decision_id)
                total, decide = (arrived - start) * 1000, (decided - start) * 1000
                results["screen"].append(total)
                results["decide"].append(decide)
                results["queued"].append(paint.queued_ms)
                results["page"].append(paint.ms)
                results["rest"].append(total - decide - paint.queued_ms - paint.ms)
                # The visitor goes through; the lane commits in the background.
                sensor.drive_low()
                sensor.drive_high()
                await point.settle("l1")
                while relay.state:  # the pulse ends by itself
                    await asyncio.sleep(0.001)
                relay.changes.clear()
                await point.checkpoint()
                if from_idle:
                    await page.wait_for_selector(IDLE, state="attached")
        finally:
            await browser.close()
    factory.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument(
        "--from-idle", action="store_true",
        help="wait for the idle screen before each read (an admit's linger: about 1.5 s a read)",
    )  # fmt: skip
    args = parser.parse_args()
    tickets = max(args.reads, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.sqlite"
        config_text = CONFIG.format(path=path)
        with Ledger.open(path) as ledger:
            started = time.perf_counter()
            ledger.import_lines(ticket_lines(tickets), source="bench")
            print(f"imported {tickets} day tickets in {time.perf_counter() - started:.2f} s")
            engine = Engine(ledger, parse_config(config_text))
            started = time.perf_counter()
            results = asyncio.run(measure(engine, config_text, args.reads, from_idle=args.from_idle))
            how = "each from the idle screen" if args.from_idle else "each replacing the last result"
            print(f"{args.reads} reads in {time.perf_counter() - started:.1f} s ({how})")
    rows = [
        ("read -> painted (page's report)", results["screen"]),
        ("  the decision (DecisionPoint.decide)", results["decide"]),
        ("  event -> message sent (daemon's queue)", results["queued"]),
        ("  page: message -> painted (its report)", results["page"]),
        ("  the rest: websocket both ways, IPC", results["rest"]),
        ("decision alone (DecisionPoint.decide)", results["decide"]),
    ]
    print(f"{'path':42} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, samples in rows:
        p50, p99 = percentiles(samples)
        print(f"{name:42} {p50:8.1f} {p99:8.1f} {max(samples):8.1f}")
    screen50, screen99 = percentiles(results["screen"])
    decide50, decide99 = percentiles(results["decide"])
    print(f"added by the screen over the decision: p50 {screen50 - decide50:.1f} ms, p99 {screen99 - decide99:.1f} ms")
    verdict = "met" if screen99 < 100 else "not met"
    print(f"target: p99 under 100 ms: {verdict}")


if __name__ == "__main__":
    main()
