"""The staff console's websocket messages: what a console page may send, and what it is sent.

In (allow-listed, strict; anything else is dropped, or answered when it has an `id`):

- `login`: `id`, `staff` (the staff id typed), `pin`; or `break_glass: true` and `pin`;
- `logout`; `touch` (staff touched the page: the idle timer starts again);
- `command`: `id` and one command of `CONSOLE_COMMANDS` (the vocabulary's, gate.point.commands),
  sent through the daemon's own command path with the logged-in staff member as its actor.

Out: `status` (on connect: the page's words, the lane, whether PIN entry is locked: never
a decision), then while a session is open `session`, `rows` and `decision` (reads and
decisions in the staff text), `pending` (attention verdicts waiting), `health` (readers,
clock, storage, mode and its cause); whatever the session, `lock`, `badge` (a refused
badge), `called` (a visitor asked for staff) and `answer`.

Only the masked name a `Decision` carries (first name and initial) leaves the daemon; a gate
has no e-mail, phone or address to send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import Field, TypeAdapter

from gate.decision import Decision, Param
from gate.display.messages import Inbound, Message
from gate.point.commands import (
    Audience,
    ConfirmAttention,
    CorrectOccupancy,
    Lookup,
    OpenOnce,
    Override,
    SetMode,
    TypeReference,
    Void,
)
from gate.point.events import DecisionMade
from gate.point.model import DecisionRecord
from gate.reasons import Reason, Verdict
from gate.text.format import Language
from gate.text.lines import text_at
from gate.text.params import PARAMS

# What a console may ask of the vocabulary (never the test kit's simulations, nor a kiosk's).
ConsoleOp: TypeAlias = (
    SetMode | OpenOnce | Lookup | CorrectOccupancy | Override | ConfirmAttention | Void | TypeReference
)
CONSOLE_COMMANDS: tuple[type[ConsoleOp], ...] = (
    OpenOnce, Override, ConfirmAttention, Void, SetMode, CorrectOccupancy, TypeReference, Lookup,
)  # fmt: skip
MessageId = Annotated[int, Field(ge=0, le=2**31)]


class Login(Inbound):
    type: Literal["login"]
    id: MessageId
    staff: str | None = Field(default=None, min_length=1, max_length=128)
    pin: str = Field(min_length=1, max_length=32)
    break_glass: bool = False


class Logout(Inbound):
    type: Literal["logout"]


class Touch(Inbound):
    type: Literal["touch"]


class Act(Inbound):
    type: Literal["command"]
    id: MessageId
    command: Annotated[ConsoleOp, Field(discriminator="op")]


ConsoleInbound: TypeAlias = Login | Logout | Touch | Act
INBOUND: TypeAdapter[ConsoleInbound] = TypeAdapter(Annotated[ConsoleInbound, Field(discriminator="type")])


def allowed_ops(role: Audience) -> list[str]:
    """The console's ops `role` may send: the page offers these, the server refuses the others anyway."""
    return [str(get_args(cls.model_fields["op"].annotation)[0]) for cls in CONSOLE_COMMANDS if role in cls.audiences]


@dataclass(frozen=True, slots=True)
class Row:
    """A read or decision as the console lists it, in the staff text of the page's language."""

    decision_id: str | None
    redemption: str | None
    lane: str
    at: dt.datetime
    verdict: str
    reason: str
    text: str
    holder: str | None  # first name and initial, as the decision has it
    admitted: int
    direction: str

    def message(self, tz: dt.tzinfo) -> Message:
        local = self.at.astimezone(tz)
        return {
            "decision_id": self.decision_id, "redemption": self.redemption, "lane": self.lane,
            "at_ms": round(self.at.timestamp() * 1000), "time": local.strftime("%H:%M:%S"),
            "verdict": self.verdict, "reason": self.reason, "text": self.text, "holder": self.holder,
            "admitted": self.admitted, "direction": self.direction,
        }  # fmt: skip


def row_of_event(event: DecisionMade, *, language: Language, tz: dt.tzinfo, currency: str | None) -> Row:
    decision = event.decision
    text = text_at(decision, "staff", at=event.at, tz=tz, language=language, currency=currency)
    return Row(event.decision_id, event.redemption, event.lane, event.at, decision.verdict.value,
               decision.reason.value, text, decision.holder, decision.admitted, event.direction)  # fmt: skip


def row_of_record(record: DecisionRecord, lane: str, *, language: Language, tz: dt.tzinfo) -> Row:
    """A decision the lane kept from before the page connected: its reason's staff text without its
    parameters (the lane keeps none), and no name."""
    decision = Decision(Verdict(record.verdict), Reason(record.reason), admitted=record.admitted)
    text = text_at(decision, "staff", at=record.at, tz=tz, language=language, currency=None)
    return Row(record.decision_id, record.redemption, lane, record.at, record.verdict, record.reason, text, None,
               record.admitted, record.direction)  # fmt: skip


def decision_of(data: Mapping[str, Any]) -> Decision:
    """A decision back from its JSON form (a command's answer), its parameters typed again as its
    reason's list says, so it renders in the staff text; what does not parse is left out."""
    reason = Reason(data["reason"])
    kinds = {spec.name: spec.kind for spec in PARAMS.get(reason, ())}
    params: dict[str, Param] = {}
    for name, value in dict(data.get("params") or {}).items():
        kind = kinds.get(name)
        try:
            if kind == "instant" and isinstance(value, str):
                params[name] = dt.datetime.fromisoformat(value)
            elif kind == "day" and isinstance(value, str):
                params[name] = dt.date.fromisoformat(value)
            elif (kind == "count" and isinstance(value, int)) or (kind == "text" and isinstance(value, str)):
                params[name] = value
        except ValueError:
            continue
    balance = data.get("balance")
    return Decision(Verdict(data["verdict"]), reason, params, admitted=int(data.get("admitted") or 0),
                    balance=balance if isinstance(balance, int) else None, holder=data.get("holder"),
                    entitlement_id=data.get("entitlement_id"), kind=data.get("kind"))  # fmt: skip


def health_message(status: Mapping[str, Any]) -> Message:
    """Device health from the daemon's status: readers, clock, storage, mode and its cause."""
    lane = status.get("lane") or {}
    clock = status.get("clock")
    health = status.get("health") or {}
    readers = [{"id": r.get("id"), "running": r.get("running"), "connected": r.get("connected"),
                "error": r.get("last_error")} for r in status.get("readers") or []]  # fmt: skip
    checks = [{"name": c.get("name"), "ok": c.get("ok"), "detail": c.get("detail")} for c in health.get("checks") or []]
    return {
        "type": "health",
        "mode": lane.get("mode"), "staff_mode": lane.get("staff_mode"), "cause": lane.get("mode_cause"),
        "mode_reason": lane.get("mode_reason") or "", "storage_fault": lane.get("storage_fault"),
        "fire_alarm": bool(lane.get("fire_alarm")), "passage": lane.get("passage") is not None,
        "alarms": lane.get("alarms", 0), "unexpected_passages": lane.get("unexpected_passages", 0),
        "clock": None if clock is None else {"trusted": clock.get("trusted"), "reason": clock.get("reason")},
        "readers": readers, "checks": checks, "ok": health.get("ok"),
        "sync": status.get("sync"),  # link, since, outbox; none without a sync process
    }  # fmt: skip


def lookup_message(found: Mapping[str, Any], *, language: Language, tz: dt.tzinfo, currency: str | None,
                   at: dt.datetime) -> Message:  # fmt: skip
    """What staff see of a code looked up: the decision it would get now, in the staff text, its
    entitlement's kind and state, and its recent uses (time, lane, persons). Nothing else."""
    decision = decision_of(found["decision"])
    entitlement = found.get("entitlement") or {}
    uses = [
        {"time": dt.datetime.fromtimestamp(u["at"], tz).strftime("%d/%m %H:%M"), "lane": u.get("lane"),
         "direction": u.get("direction"), "persons": u.get("persons"), "credits": u.get("credits")}
        for u in reversed(found.get("recent_uses") or [])
    ]  # fmt: skip
    return {
        "reference": found.get("reference"), "verdict": decision.verdict.value, "reason": decision.reason.value,
        "text": text_at(decision, "staff", at=at, tz=tz, language=language, currency=currency),
        "holder": decision.holder, "balance": decision.balance,
        "entitlement": {k: entitlement.get(k) for k in ("id", "kind", "state", "flags")} if entitlement else None,
        "uses": uses,
    }


def decided_message(decided: Mapping[str, Any], *, language: Language, tz: dt.tzinfo, currency: str | None,
                    at: dt.datetime) -> Message:  # fmt: skip
    """A staff act's decision (override, confirm, typed code): its verdict and staff text."""
    decision = decision_of(decided["decision"])
    return {
        "decision_id": decided.get("decision_id"), "verdict": decision.verdict.value,
        "reason": decision.reason.value, "holder": decision.holder,
        "text": text_at(decision, "staff", at=at, tz=tz, language=language, currency=currency),
    }
