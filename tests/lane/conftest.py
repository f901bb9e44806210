"""A lane on a real ledger, engine and decision point, with its turnstile on gpiozero mock pins wired like one."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from gate.cache import JournalEntry, Ledger
from gate.config import GateConfig, parse_config
from gate.decision import Decision
from gate.engine import Engine, Outcome
from gate.point import DecisionPoint, LaneMode, LaneStatus, Subscription
from gate.point.events import Event
from gate.records import Direction
from gate.scanner.read import Read
from gate.turnstile import Turnstile
from gate.turnstile.mock import WiredPin, mock_factory, wired
from tests.configs import config_text

PARIS = ZoneInfo("Europe/Paris")
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)

# Pins (BCM) of the test wiring.
ENTRY_RELAY, ENTRY_SENSOR, EXIT_RELAY, EXIT_SENSOR = 17, 27, 22, 23
LOCK, ALARM, FIRE, BUZZER, GREEN, RED, AMBER = 5, 6, 13, 16, 24, 25, 12
PULSE_S = 0.1
TIMEOUT_S = 0.3
ACCESSIBLE_S = 0.5

# Lane l1 and its turnstile wired as above; two pins are named as on the board, as a venue may.
LANE: dict[str, Any] = {
    "lanes": {"l1": {"product": "entry"}},
    "turnstile": {
        "pin_factory": "mock",
        "pulse_ms": round(PULSE_S * 1000),
        "passage_timeout_s": TIMEOUT_S,
        "accessible_timeout_s": ACCESSIBLE_S,
        "debounce_ms": 5,
        "fire_clear_s": 0.1,
        "lock_output": LOCK,
        "alarm_input": ALARM,
        "fire_loop": "GPIO13",  # FIRE
        "buzzer": BUZZER,
        "first_mode": "normal",
        "entry": {"relay": ENTRY_RELAY, "sensor": "BOARD13"},  # ENTRY_SENSOR
        "exit": {"relay": EXIT_RELAY, "sensor": EXIT_SENSOR},
        "lamps": {"green": GREEN, "red": RED, "amber": AMBER},
    },
}

_DAY = "2026-06-01"
RECORDS: list[dict[str, Any]] = [
    {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500},
    {"type": "entitlement", "kind": "ticket", "id": "single", "version": 1, "day": _DAY, "references": ["SINGLE"]},
    {"type": "entitlement", "kind": "ticket", "id": "other", "version": 1, "day": _DAY, "references": ["OTHER"]},
    {"type": "entitlement", "kind": "ticket", "id": "trio", "version": 1, "day": _DAY, "pax": 3,
     "references": ["TRIO"]},
    {"type": "entitlement", "kind": "ticket", "id": "access", "version": 1, "day": _DAY,
     "flags": ["accessible"], "references": ["ACCESS"]},
    {"type": "entitlement", "kind": "ticket", "id": "check", "version": 1, "day": _DAY, "flags": ["id_check"],
     "references": ["CHECK"]},
]  # fmt: skip


@dataclass
class Rig:
    ledger: Ledger
    engine: Engine
    config: GateConfig
    factory: MockFactory

    def pin(self, number: int) -> WiredPin:
        return wired(self.factory, number)

    @contextlib.asynccontextmanager
    async def lane(self) -> AsyncIterator[RunningLane]:
        """The lane l1 running: its decision point, and its turnstile plugged in."""
        point = DecisionPoint(engine=self.engine, lanes=["l1"], clock=lambda: NOON)
        assert self.config.turnstile is not None
        turnstile = Turnstile(point=point, lane_id="l1", config=self.config.turnstile, pin_factory=self.factory)
        async with point, turnstile:
            yield RunningLane(point, turnstile)

    def journal(self, type_: str | None = None) -> list[JournalEntry]:
        entries = self.ledger.journal()
        return [e for e in entries if type_ is None or e.type == type_]


@dataclass
class RunningLane:
    """Lane l1 as the tests drive it: every call goes through the decision point's public API."""

    point: DecisionPoint
    turnstile: Turnstile
    id: str = "l1"

    async def handle(self, read: Read, *, party: int | None = None) -> Decision:
        outcome = await self.point.decide(read, lane=self.id, party=party)
        assert isinstance(outcome, Outcome), outcome  # the lane tests read visitors' codes, never a badge
        return outcome.decision

    async def set_mode(self, mode: LaneMode, *, reason: str = "", staff: str | None = None) -> None:
        await self.point.set_mode(self.id, mode, reason=reason, by=staff)

    async def open_once(self, *, direction: Direction = "entry", reason: str, staff: str = "staff") -> None:
        await self.point.open_once(self.id, direction=direction, reason=reason, by=staff)

    def status(self) -> LaneStatus:
        return self.point.status(self.id)

    def subscribe(self) -> Subscription:
        return self.point.subscribe()

    async def settle(self) -> None:
        await self.point.settle(self.id)

    @property
    def mode(self) -> LaneMode:
        return self.point.mode(self.id)

    @property
    def fire_alarm(self) -> bool:
        return self.point.fire_alarm(self.id)


def make_rig(tmp_path: Path, *, first_mode: str = "normal") -> Iterator[Rig]:
    path = tmp_path / "ledger.sqlite"
    config = parse_config(config_text(LANE, ledger={"path": path}, turnstile={"first_mode": first_mode}))
    factory = mock_factory()
    # The fire loop is closed (pulled to ground) before the lane starts, as on a healthy site.
    wired(factory, FIRE).drive_low()
    with Ledger.open(path) as ledger:
        ledger.import_lines([json.dumps(r) for r in RECORDS], source="test")
        yield Rig(ledger, Engine(ledger, config), config, factory)
    factory.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def read(code: str, direction: Direction = "entry") -> Read:
    return Read(code, None, "test", direction)


async def until(condition: Any, timeout: float = 2.0, step: float = 0.002) -> None:
    """Wait until `condition()` is true (polling; the pins change on the loop's own time)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {condition}")
        await asyncio.sleep(step)


def drained(events: Subscription) -> list[Event]:
    return events.drain()
