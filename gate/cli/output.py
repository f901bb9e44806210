"""How a decision is printed: one JSON object for machines, one aligned line for people."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from gate.config import Language
from gate.decision import Decision, Param
from gate.engine import Outcome
from gate.reasons import Verdict
from gate.text import render

_MARK = {Verdict.ADMIT: "ADMIT", Verdict.DENY: "DENY", Verdict.ATTENTION: "STAFF"}


def json_param(value: Param) -> str | int:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def decision_json(
    outcome: Outcome, *, lane: str, at: dt.datetime, tz: dt.tzinfo, language: Language
) -> dict[str, Any]:
    decision = outcome.decision
    return {
        "at": at.astimezone(tz).isoformat(),
        "lane": lane,
        "reference": outcome.reference,
        "verdict": str(decision.verdict),
        "reason": str(decision.reason),
        "params": {k: json_param(v) for k, v in decision.params.items()},
        "admitted": decision.admitted,
        "balance": decision.balance,
        "holder": decision.holder,
        "entitlement": decision.entitlement_id,
        "kind": decision.kind,
        "redemption": outcome.redemption,
        "text": {
            "visitor": _text(decision, "visitor", language, tz, at),
            "staff": _text(decision, "staff", language, tz, at),
        },
    }


def decision_line(outcome: Outcome, *, at: dt.datetime, tz: dt.tzinfo, language: Language) -> str:
    return decision_text(outcome.decision, at=at, tz=tz, language=language)


def decision_text(decision: Decision, *, at: dt.datetime, tz: dt.tzinfo, language: Language) -> str:
    """ADMIT/DENY/STAFF, the visitor's text, the staff's when it differs, then [reason, entitlement]."""
    visitor = _text(decision, "visitor", language, tz, at)
    staff = _text(decision, "staff", language, tz, at)
    detail = f"{decision.reason}" + (f", {decision.entitlement_id}" if decision.entitlement_id else "")
    line = f"{_MARK[decision.verdict]:<5}  {visitor}"
    if staff != visitor:
        line += f"  | staff: {staff}"
    return f"{line}  [{detail}]"


def _text(
    decision: Decision, audience: Literal["visitor", "staff"], language: Language, tz: dt.tzinfo, at: dt.datetime
) -> str:
    return render(decision, audience=audience, language=language, tz=tz, now=at)
