"""The lane: the turnstile over GPIO and the two-phase passage (see docs/lane.md)."""

from gate.lane.io import LaneHardwareError, TurnstileIO, make_factory
from gate.lane.lane import Lane, LaneStopped
from gate.lane.model import (
    DecisionRecord,
    HoldReport,
    LaneEvent,
    LaneMode,
    LaneStatus,
    Outputs,
    PassageInfo,
    PassageResult,
)
from gate.lane.passage import RESTART_WHY

__all__ = [
    "RESTART_WHY",
    "DecisionRecord",
    "HoldReport",
    "Lane",
    "LaneEvent",
    "LaneHardwareError",
    "LaneMode",
    "LaneStatus",
    "LaneStopped",
    "Outputs",
    "PassageInfo",
    "PassageResult",
    "TurnstileIO",
    "make_factory",
]
