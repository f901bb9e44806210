"""How a decision is printed: one JSON object for machines (docs/check.md), one aligned line for people."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gate.config import Language
from gate.decision import Decision, Param
from gate.engine import Outcome
from gate.text.format import format_money
from gate.text.lines import decision_text, text_at

__all__ = ["decision_json", "decision_line", "decision_text", "json_param"]


def json_param(value: Param) -> str | int:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def decision_json(
    outcome: Outcome, *, lane: str, at: dt.datetime, tz: dt.tzinfo, language: Language, currency: str = "EUR"
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
        "covered": list(decision.covered),
        "to_pay": _money(decision, currency, language),
        "holder": decision.holder,
        "entitlement": decision.entitlement_id,
        "kind": decision.kind,
        "redemption": outcome.redemption,
        "text": {
            "visitor": text_at(decision, "visitor", at=at, tz=tz, language=language, currency=currency),
            "staff": text_at(decision, "staff", at=at, tz=tz, language=language, currency=currency),
        },
    }


def _money(decision: Decision, currency: str, language: Language) -> dict[str, Any] | None:
    amount = decision.to_pay
    if amount is None:
        return None
    return {"amount": amount, "currency": currency, "text": format_money(amount, currency, language)}


def decision_line(
    outcome: Outcome, *, at: dt.datetime, tz: dt.tzinfo, language: Language, currency: str = "EUR"
) -> str:
    return decision_text(outcome.decision, at=at, tz=tz, language=language, currency=currency)
