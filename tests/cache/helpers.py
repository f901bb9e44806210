"""Builders shared by the ledger tests: lanes, times, decisions and their plans."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from gate.decision import Decision, Lane, Use
from gate.reasons import Reason, Verdict
from gate.records import Ticket

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ledger.jsonl"
PARIS = dt.timezone(dt.timedelta(hours=2))
NOON = dt.datetime(2025, 10, 4, 12, 0, tzinfo=PARIS)
NORTH = Lane(id="north-1", zone="main-hall")
KIOSK = Lane(id="kiosk-1", zone="foyer", kiosk=True)


def use(entitlement_id: str, *, persons: int = 1, credits: int = 0, at: dt.datetime = NOON,
        direction: str = "entry", lane: Lane = NORTH, performance: str | None = None) -> Use:  # fmt: skip
    return Use(
        entitlement_id=entitlement_id,
        at=at.timestamp(),
        direction="exit" if direction == "exit" else "entry",
        persons=persons,
        credits=credits,
        performance=performance,
        event=None,
        benefit=None,
        lane=lane.id,
        zone=lane.zone,
        held=True,
    )


def admit(
    entitlement_id: str, *plan: Use, kind: str = "ticket", admitted: int | None = None, admission: Ticket | None = None
) -> Decision:
    return Decision(
        verdict=Verdict.ADMIT,
        reason=Reason.REDEEMED if admission else Reason.OK,
        params={"show": "Hamlet", "starts_at": NOON, "day": NOON.date()},
        admitted=sum(u.persons for u in plan) if admitted is None else admitted,
        entitlement_id=entitlement_id,
        kind=kind,
        holder="Marie-Claire D.",
        plan=plan,
        admission=admission,
    )


def deny(entitlement_id: str | None, reason: Reason = Reason.ALREADY_USED) -> Decision:
    return Decision(
        verdict=Verdict.DENY, reason=reason, params={"used_at": NOON}, entitlement_id=entitlement_id,
        holder="Marie-Claire D.",
    )  # fmt: skip
