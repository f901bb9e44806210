"""What a lane says about itself: its modes, its status, its outputs and its finished passages.

The decision point's vocabulary, spoken by the turnstile too. Plain frozen dataclasses, so
the terminal view, the control socket and the screens can copy them across without holding a
reference into the point. None of them carries a holder's name: the status keeps decisions
as verdict, reason code, entitlement id and count only (the full `Decision`, with the masked
name, travels in the events: gate.point.events).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from gate.decision import Decision
from gate.records import Direction


class LaneMode(enum.StrEnum):
    NORMAL = "normal"  # a read decides; an admit pulses the relay
    FREE = "free"  # free passage: relays held open; reads are still decided and journaled
    LOCKED = "locked"  # every read refused (lane_closed); the lock output is active
    OUT_OF_ORDER = "out_of_order"  # as locked, shown as out of order
    EMERGENCY = "emergency"  # fire: every relay held open (the fire loop, or set by staff)


CLOSED_MODES = frozenset({LaneMode.LOCKED, LaneMode.OUT_OF_ORDER})
OPEN_MODES = frozenset({LaneMode.FREE, LaneMode.EMERGENCY})

Lamp: TypeAlias = Literal["green", "red", "amber"]
LAMPS: tuple[Lamp, ...] = ("green", "red", "amber")


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as the lane reports it: no holder name, no text."""

    verdict: str
    reason: str
    entitlement_id: str | None
    admitted: int
    direction: Direction
    at: dt.datetime
    redemption: str | None = None  # the held redemption, for an admit
    decision_id: str | None = None  # the journal row that recorded it

    @classmethod
    def of(
        cls, decision: Decision, *, direction: Direction, at: dt.datetime, redemption: str | None,
        decision_id: str | None = None,
    ) -> DecisionRecord:  # fmt: skip
        return cls(
            decision.verdict.value,
            decision.reason.value,
            decision.entitlement_id,
            decision.admitted,
            direction,
            at,
            redemption,
            decision_id,
        )


@dataclass(frozen=True, slots=True)
class PassageResult:
    """How one passage ended: committed (someone passed) or released (nobody did)."""

    redemption: str | None  # None for a staff "open once"
    entitlement_id: str | None
    direction: Direction
    admitted: int
    passed: int  # persons counted by the sensor, a companion included
    committed: int  # persons committed to the ledger (never more than admitted)
    outcome: Literal["committed", "released", "open_once", "failed"]
    why: str  # "all passed", "timeout", "fire alarm", "mode locked", "shutdown", ...
    seconds: float  # from the first pulse to the end (monotonic)


@dataclass(frozen=True, slots=True)
class PassageInfo:
    """The passage in progress."""

    direction: Direction
    redemption: str | None
    entitlement_id: str | None
    expected: int  # persons the relay will let through, a companion included
    passed: int
    seconds_left: float
    waiting: int  # admitted passages queued behind this one


@dataclass(frozen=True, slots=True)
class Outputs:
    """What every output is doing now (True = active), for the status and the terminal view."""

    relays: dict[Direction, bool] = field(default_factory=dict)
    lock: bool | None = None  # None: no lock output wired
    lamps: dict[Lamp, bool] = field(default_factory=dict)  # only the wired ones
    buzzer: bool | None = None


@dataclass(frozen=True, slots=True)
class HoldReport:
    """A hold found at start-up (left by a daemon that died mid-passage) and what became of it."""

    redemption: str
    entitlement_id: str | None
    direction: Direction
    admitted: int
    held_at: dt.datetime
    outcome: Literal["released", "failed"]


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """What a lane's device (its turnstile) adds to the lane's status; a kiosk has none."""

    passage: PassageInfo | None = None
    outputs: Outputs = field(default_factory=Outputs)
    last_passages: tuple[PassageResult, ...] = ()  # newest last
    alarms: int = 0  # forced rotations reported by the turnstile since start
    unexpected_passages: int = 0  # sensor passages nobody was admitted for, since start (normal mode)
    free_passages: int = 0  # sensor passages in free or emergency mode, since start


@dataclass(frozen=True, slots=True)
class StaffOnDuty:
    """The staff session a badge read opened at a lane: who, as which role, until when."""

    by: str
    role: str
    until: dt.datetime


@dataclass(frozen=True, slots=True)
class LaneStatus:
    lane: str
    kind: Literal["turnstile", "kiosk"]
    mode: LaneMode  # in force: emergency while the fire loop is open
    staff_mode: LaneMode  # the mode last set (persisted); the lane returns to it after a fire alarm
    mode_reason: str  # why the mode was set, as staff gave it
    mode_cause: Literal["staff", "fire_alarm", "storage"]  # what holds the lane in its mode
    storage_fault: str | None  # what failed, while the ledger cannot be written (the lane is out of order)
    fire_alarm: bool
    last_decisions: tuple[DecisionRecord, ...]  # newest last
    restart_holds: tuple[HoldReport, ...]  # holds resolved at this start (see docs/lane.md)
    passage: PassageInfo | None = None
    outputs: Outputs = field(default_factory=Outputs)
    last_passages: tuple[PassageResult, ...] = ()  # newest last
    alarms: int = 0
    unexpected_passages: int = 0
    free_passages: int = 0
    attention: tuple[str, ...] = ()  # ids of the attention verdicts waiting for staff, oldest first
    staff_session: StaffOnDuty | None = None  # opened by a staff badge read at the lane
