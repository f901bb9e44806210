"""The decision point: the one road from a read to a decision, for lanes and kiosks (docs/architecture.md)."""

from gate.point.events import Event, EventStream, Missed, Subscription
from gate.point.model import (
    CLOSED_MODES,
    OPEN_MODES,
    DecisionRecord,
    DeviceReport,
    HoldReport,
    LaneMode,
    LaneStatus,
    Outputs,
    PassageInfo,
    PassageResult,
)
from gate.point.point import RESTART_WHY, DecisionPoint, LaneRefused, PointStopped

__all__ = [
    "CLOSED_MODES",
    "OPEN_MODES",
    "RESTART_WHY",
    "DecisionPoint",
    "DecisionRecord",
    "DeviceReport",
    "Event",
    "EventStream",
    "HoldReport",
    "LaneMode",
    "LaneRefused",
    "LaneStatus",
    "Missed",
    "Outputs",
    "PassageInfo",
    "PassageResult",
    "PointStopped",
    "Subscription",
]
