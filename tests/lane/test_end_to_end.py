"""The whole lane end to end: a ticket's code in a video file, read by the real camera reader
from the config, inside the daemon's real task tree (`Daemon.run`, in-process so the test can
wire the mock pins), decided, the relay pulsed, the passage sensor turned, the redemption
committed; the same code shown again is refused as already used.

Times are asserted against the read: the relay must close within READ_TO_RELAY_S of the
camera's read (generous for a loaded 2-core CI; bench/lane.py measures the real figure).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2

from gate.cache import Ledger
from gate.config import ReaderConfig, load_config
from gate.daemon.run import Daemon
from gate.daemon.systemd import Notifier
from gate.point import PassageResult, Subscription
from gate.point.events import DecisionMade, Event, PassageStep
from gate.scanner.factory import build_reader
from gate.scanner.read import Read, Reader
from gate.scanner.symbology import Symbology
from gate.scanner.synth import Scene, lane_frame, render
from gate.turnstile.mock import WiredPin, rotate, wired
from tests.configs import ConfigFile

CODE = "GATE-E2E-1"
RELAY, SENSOR, GREEN, RED = 17, 27, 24, 25
PULSE_S = 0.15
READ_TO_RELAY_S = 1.0
FPS = 20.0

# Lane l1 (entry only) as the daemon runs it: mock pins, the camera reading a video file.
LANE = {
    "lanes": {"l1": {"directions": ["entry"]}},
    "turnstile": {
        "pin_factory": "mock",
        "pulse_ms": round(PULSE_S * 1000),
        "passage_timeout_s": 20,
        "debounce_ms": 5,
        "entry": {"relay": RELAY, "sensor": SENSOR},
        "lamps": {"green": GREEN, "red": RED},
    },
    "daemon": {"lane": "l1", "control_socket": "run/control.sock", "clock": {"require_sync": False}},
}


def _video(path: Path) -> Path:
    """The ticket shown for half a second, taken away for 2.5 s, then shown again."""
    code = render(CODE, Symbology.QR_CODE)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (640, 480), isColor=False)
    assert writer.isOpened()
    for seed, (shown, count) in enumerate([(None, 10), (code, 10), (None, 50), (code, 10), (None, 200)]):
        frame = lane_frame(shown, Scene(width=240) if shown is not None else None, seed=seed)
        for _ in range(count):
            writer.write(frame)
    writer.release()
    return path


def _venue(tmp_path: Path, config_file: ConfigFile) -> Path:
    camera = {"type": "camera", "lane": "l1", "source": f"file:{_video(tmp_path / 'lane.avi')}", "dedupe_seconds": 1.0}
    config = config_file(LANE, readers={"cam": camera})
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    records = [
        {"type": "header", "format": "gate-ledger", "version": 1},
        {"type": "entitlement", "kind": "ticket", "id": "t-e2e", "version": 1, "day": today, "references": [CODE]},
    ]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ledger.import_lines([json.dumps(r) for r in records], source="test")
    return config


class Seen(Reader):
    """The configured reader, unchanged, with every read it delivers kept (for its time)."""

    def __init__(self, inner: Reader, seen: list[Read]) -> None:
        super().__init__(name=inner.name, direction=inner.direction)
        self.inner, self.seen = inner, seen

    async def reads(self) -> AsyncGenerator[Read, None]:
        async for read in self.inner.reads():
            self.seen.append(read)
            yield read

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _next(events: Subscription, kind: type[Event], timeout: float = 30.0) -> Event:
    async with asyncio.timeout(timeout):
        while not isinstance(event := await events.get(), kind):
            pass
    return event


async def _until_active(pin: WiredPin, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not pin.state:
            await asyncio.sleep(0.002)


def test_a_video_of_a_ticket_opens_the_lane_once(tmp_path: Path, config_file: ConfigFile) -> None:
    config = load_config(_venue(tmp_path, config_file))
    seen: list[Read] = []
    built: list[str] = []

    def build(reader_id: str, reader_config: ReaderConfig) -> Reader:
        reader = build_reader(reader_id, reader_config)  # the real CameraReader, from the config
        built.append(type(reader).__name__)
        return Seen(reader, seen)

    async def scenario() -> None:
        daemon = Daemon(config, "l1", notifier=Notifier(None), build=build)
        started = time.monotonic()
        running = asyncio.create_task(daemon.run())
        try:
            async with asyncio.timeout(10):
                while daemon.point is None or daemon.turnstile is None:
                    await asyncio.sleep(0.01)
            point, pins = daemon.point, daemon.turnstile.pin_factory
            assert pins is not None
            relay, sensor = wired(pins, RELAY), wired(pins, SENSOR)
            red, green = wired(pins, RED), wired(pins, GREEN)
            events = point.subscribe()

            # The camera reads the ticket: admitted, and the relay closes promptly after the read.
            made = await _next(events, DecisionMade)
            assert isinstance(made, DecisionMade)
            decided = made.decision
            assert (decided.verdict, decided.reason, decided.entitlement_id) == ("admit", "ok", "t-e2e")
            assert made.decision_id == made.redemption is not None  # an admit's decision id is its redemption
            read = seen[0]
            assert (read.data, read.reader, read.symbology) == (CODE, "cam", "]Q1")
            await _until_active(relay)
            closed = relay.first_change(True, started)
            assert closed is not None and 0 <= closed - read.monotonic < READ_TO_RELAY_S
            assert green.state and not red.state

            # The visitor pushes the arm: the sensor turns, as its wire would report it.
            await asyncio.sleep(PULSE_S / 2)
            turned = time.monotonic()
            await rotate(sensor)
            ended_step = await _next(events, PassageStep, timeout=5.0)
            while isinstance(ended_step, PassageStep) and ended_step.result is None:
                ended_step = await _next(events, PassageStep, timeout=5.0)
            assert isinstance(ended_step, PassageStep)
            passage = ended_step.result
            assert isinstance(passage, PassageResult)
            ended = (passage.outcome, passage.passed, passage.committed, passage.why)
            assert ended == ("committed", 1, 1, "all passed")
            committed_at = time.monotonic()
            assert committed_at - turned < READ_TO_RELAY_S
            with Ledger.open(tmp_path / "ledger.sqlite") as reading:  # as a command-line tool would
                journal = reading.journal()
            (commit,) = [e for e in journal if e.type == "redemption.committed"]
            assert commit.entitlement_id == "t-e2e" and commit.redemption_id == made.redemption
            assert commit.body["passed"] == 1
            # One pulse of pulse_ms; the red lamp never lit for the admitted visitor.
            async with asyncio.timeout(5):
                while relay.state:
                    await asyncio.sleep(0.01)
            ((start, end),) = relay.active_spans(started)
            assert end is not None and PULSE_S - 0.01 < end - start < PULSE_S + 0.1
            assert red.first_change(True, started) is None

            # The same ticket shown to the camera again: refused as already used, red, no pulse.
            again = await _next(events, DecisionMade)
            assert isinstance(again, DecisionMade)
            assert (again.decision.verdict, again.decision.reason) == ("deny", "already_used")
            # (The camera saw the code on every frame it decoded: the lane got one read per showing.)
            assert seen[-1].data == CODE and seen[-1].monotonic - read.monotonic > 2.0
            await _until_active(red)
            assert len(relay.active_spans(started)) == 1
        finally:
            daemon.stop("test")
            await asyncio.wait_for(running, 15)

    asyncio.run(scenario())
    assert built == ["CameraReader"]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        assert [u.persons for u in ledger.activity("t-e2e")] == [1]
        assert ledger.open_holds() == []
        refusals = [e for e in ledger.journal() if e.type == "refusal"]
        assert [(e.entitlement_id, e.reason) for e in refusals] == [("t-e2e", "already_used")]
