"""Start-up: the holds a lane's previous process left when it died mid-passage.

The sensor's edges died with the process, so nobody can say who passed: each hold is
released, the visitor keeps the credit rather than lose it, and staff see the list in the
status (docs/lane.md, "Start-up").
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

from gate.cache import LedgerError
from gate.engine import Engine
from gate.point.model import HoldReport

log = logging.getLogger("gate.point")

RESTART_WHY = "restart: passage not confirmed"


def release_left_holds(engine: Engine, lane_id: str, at: dt.datetime) -> list[HoldReport]:
    """Release the holds `lane_id` left (on the ledger thread); what became of each."""
    reports: list[HoldReport] = []
    for hold in engine.ledger.open_holds():
        if hold.lane != lane_id:
            continue
        outcome: Literal["released", "failed"]
        try:
            engine.release(hold.id, at=at, why=RESTART_WHY)
            outcome = "released"
            log.warning(
                "lane %s: hold %s of entitlement %s (%d admitted, %s) released: passage not confirmed",
                lane_id, hold.id, hold.entitlement_id or "-", hold.admitted, hold.direction,
            )  # fmt: skip
        except LedgerError as exc:
            outcome = "failed"
            log.error("lane %s: hold %s cannot be released: %s", lane_id, hold.id, exc)
        reports.append(HoldReport(hold.id, hold.entitlement_id, hold.direction, hold.admitted, hold.at, outcome))
    return reports
