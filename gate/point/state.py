"""The decision point's state of one lane, and the errors a request about a lane may get."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from gate.errors import GateError
from gate.point import modes
from gate.point.device import LaneDevice
from gate.point.model import DecisionRecord, HoldReport, LaneMode
from gate.point.staff import PendingAttention, StaffSession
from gate.records import Direction

HISTORY = 20  # decisions kept per lane for the status


class PointStopped(GateError, RuntimeError):
    """The decision point is not running (not entered yet, or stopped): it takes no reads."""


class LaneRefused(GateError, ValueError):
    """A request the lane cannot do as asked (a direction it has no reader for, a second device)."""


@dataclass(eq=False)
class LaneState:
    """What the point knows of one of its lanes: its modes, device, history and waiting acts."""

    id: str
    kiosk: bool
    directions: tuple[Direction, ...]
    staff: modes.StoredMode
    emergency: bool = False
    device: LaneDevice | None = None
    decisions: deque[DecisionRecord] = field(default_factory=lambda: deque(maxlen=HISTORY))
    restart_holds: tuple[HoldReport, ...] = ()
    attention: dict[str, PendingAttention] = field(default_factory=dict)  # by decision id, oldest first
    staff_session: StaffSession | None = None  # opened by a staff badge read here
    storage: bool = False  # the point is in a storage fault (gate.point.storage)

    @property
    def mode(self) -> LaneMode:
        if self.emergency:
            return LaneMode.EMERGENCY
        return LaneMode.OUT_OF_ORDER if self.storage else self.staff.mode

    @property
    def cause(self) -> Literal["staff", "fire_alarm", "storage"]:
        """Why the lane is in its mode: the fire alarm, the ledger's storage, or staff."""
        return "fire_alarm" if self.emergency else "storage" if self.storage else "staff"
