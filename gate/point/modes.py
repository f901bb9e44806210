"""The mode staff set, kept in the ledger so that the last mode set wins after a restart.

The mode is a ledger setting, `lane.<lane id>.mode`, as JSON with the reason and the time it
was set, written in the same transaction as its `staff.mode` journal event.

These functions run on the decision point's ledger thread, never on the event loop.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from gate.cache import Ledger
from gate.point.model import LaneMode

log = logging.getLogger("gate.point")

@dataclass(frozen=True, slots=True)
class StoredMode:
    mode: LaneMode
    reason: str
    staff: str | None
    at: dt.datetime | None


def meta_key(lane_id: str) -> str:
    return f"lane.{lane_id}.mode"


def load_mode(ledger: Ledger, lane_id: str) -> StoredMode | None:
    """The mode last set at this lane, or None when it was never set (or cannot be read)."""
    raw = ledger.setting(meta_key(lane_id))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        at = data.get("at")
        return StoredMode(
            LaneMode(data["mode"]), str(data.get("reason", "")), data.get("staff"),
            dt.datetime.fromisoformat(at) if at else None,
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.error("lane %s: stored mode %r is unreadable (%s); using the config's first_mode", lane_id, raw, exc)
        return None


def save_mode(ledger: Ledger, lane_id: str, stored: StoredMode, *, previous: LaneMode) -> None:
    """Journal the change and keep it as the lane's mode, in one durable transaction."""
    at = stored.at or dt.datetime.now(dt.UTC)
    value = json.dumps(
        {"mode": stored.mode.value, "reason": stored.reason, "staff": stored.staff, "at": at.isoformat()},
        ensure_ascii=False,
    )
    ledger.record_event(
        "staff.mode",
        at=at,
        lane=lane_id,
        body={"mode": stored.mode.value, "previous": previous.value, "reason": stored.reason, "staff": stored.staff},
        settings={meta_key(lane_id): value},
    )
