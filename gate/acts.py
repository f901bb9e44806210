"""Staff acts in the engine: override a refusal, confirm an attention verdict, void a redemption.

Each is journaled with who gave it (`pin:<staff>`, `badge:<credential>`, `unix:<user>`), why,
and the id of the decision or redemption it acts on, in the same durable transaction as the
change it makes: the journal never says an act happened that did not, nor misses one. Each
refuses with `ActRefused`, changing nothing, what it cannot do as asked (docs/lane.md, "Staff
acts"). They run where decisions run: on the decision point's ledger thread, or in a command.

- An **override** admits despite a refusal, named by its decision id, within a time limit;
  it holds a redemption like any admit (the turnstile then opens), recording one use as
  the entitlement's rules count uses (gate/rules/override.py).
- A **confirmation** decides the read again with the attention check done by staff: uses may
  have changed since the verdict, so the new decision may refuse.
- A **void** gives a committed redemption's uses back (gate/cache/voids.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Literal

from gate.cache.voids import NotVoidable, Voided
from gate.decision import Ask
from gate.engine import Engine, Outcome
from gate.errors import GateError
from gate.rules.override import override as override_rule

log = logging.getLogger("gate.acts")

OVERRIDE, CONFIRM, VOID = "staff.override", "staff.confirm", "staff.void"


class ActRefused(GateError, PermissionError):
    """A staff act the engine will not do as asked; nothing changed."""


class NeedsConfirmation(ActRefused):
    """An override of an entitlement admitted here a short while ago: send it again, confirmed."""


def override(
    engine: Engine, decision_id: str, *, lane: str, at: dt.datetime, by: str, why: str, confirm: bool = False,
) -> tuple[Outcome, str]:  # fmt: skip
    """Admit what the refusal `decision_id` at `lane` refused; returns the held admit and the act's journal id."""
    ledger, where, limits = engine.ledger, engine.lane(lane), engine.config.staff
    with ledger.recording():
        refused = ledger.entry(decision_id)
        if refused is None or refused.type not in ("refusal", "attention"):
            raise ActRefused(f"no refusal {decision_id!r} in the journal: name a refused decision's id")
        if refused.type == "attention":
            raise ActRefused(f"decision {decision_id} asks staff to check (id, child): confirm it instead")
        if refused.lane != lane:
            raise ActRefused(f"refusal {decision_id} was at lane {refused.lane}, not {lane}: override it there")
        age = (at - refused.at).total_seconds()
        if age > limits.override_window_s:
            raise ActRefused(
                f"refusal {decision_id} is {age / 60:.0f} min old (the limit is {limits.override_window_s / 60:g} min):"
                " read the code again"
            )
        done = ledger.acted_on(decision_id, OVERRIDE)
        if done is not None:
            raise ActRefused(f"refusal {decision_id} was overridden already (redemption {done.redemption_id})")
        direction: Literal["entry", "exit"] = "exit" if refused.body.get("direction") == "exit" else "entry"
        entitlement = engine.entitlement(refused.entitlement_id)
        with ledger.snapshot():
            if entitlement is not None and not confirm:
                _readmit_check(engine, entitlement.id, where.zone, at, limits.readmit_confirm_s)
            holder = ledger.holder(entitlement.holder) if entitlement is not None and entitlement.holder else None
            situation = engine.situation(
                (entitlement,) if entitlement is not None else (), holder, where, at, Ask(direction=direction)
            )
        decision = override_rule(situation, by=by, note=why)
        reference = str(refused.body.get("reference") or "")
        redemption = ledger.hold(decision, lane=where, reference=reference, at=at, direction=direction)
        body = {"decision": decision_id, "staff": by, "why": why, "refused": refused.reason, "confirmed": confirm}
        journal_id = ledger.record_event(
            OVERRIDE, at=at, lane=lane, entitlement_id=decision.entitlement_id, redemption_id=redemption,
            reason=refused.reason, body=body,
        )  # fmt: skip
    log.info("override lane=%s decision=%s entitlement=%s redemption=%s by=%s", lane, decision_id,
             decision.entitlement_id or "-", redemption, by)  # fmt: skip
    flags = entitlement.flags if entitlement is not None else ()
    language = holder.language if holder is not None else None
    return Outcome(decision, reference or None, redemption, flags, redemption, language), journal_id


def _readmit_check(engine: Engine, entitlement_id: str, zone: str, at: dt.datetime, within_s: float) -> None:
    since = at.timestamp() - within_s
    entries = [
        u for u in engine.ledger.uses([entitlement_id], since=since) if u.direction == "entry" and u.zone == zone
    ]
    if entries:
        last = max(entries, key=lambda u: u.at)
        when = dt.datetime.fromtimestamp(last.at, engine.tz).strftime("%H:%M")
        raise NeedsConfirmation(
            f"entitlement {entitlement_id} was admitted here at {when} ({len(entries)} time(s) in the last "
            f"{within_s / 60:g} min): send the override again with its confirmation"
        )


def confirm(
    engine: Engine, read: str | bytes, *, decision_id: str, lane: str, at: dt.datetime, ask: Ask, by: str, why: str,
) -> tuple[Outcome, str]:  # fmt: skip
    """Decide `read` again with the attention check done; an admit is held (the turnstile opens).

    The new decision may refuse (uses changed since): it is journaled as any refusal, and
    staff may override it. Returns the outcome and the act's journal id.
    """
    ledger = engine.ledger
    with ledger.recording():
        outcome = engine.admit(read, lane=lane, at=at, ask=replace(ask, attended=True), logged=False)
        decision = outcome.decision
        body = {"decision": decision_id, "staff": by, "why": why, "verdict": decision.verdict.value,
                "outcome": outcome.decision_id}  # fmt: skip
        journal_id = ledger.record_event(
            CONFIRM, at=at, lane=lane, entitlement_id=decision.entitlement_id, redemption_id=outcome.redemption,
            reason=decision.reason.value, body=body,
        )  # fmt: skip
    log.info("confirm lane=%s decision=%s verdict=%s reason=%s redemption=%s by=%s", lane, decision_id,
             decision.verdict, decision.reason, outcome.redemption or "-", by)  # fmt: skip
    return outcome, journal_id


def void(engine: Engine, redemption_id: str, *, at: dt.datetime, by: str, why: str) -> Voided:
    """Give a committed redemption's uses back (and withdraw the admission a voucher's created)."""
    window = engine.config.staff.void_window_s
    try:
        return engine.ledger.void(redemption_id, at=at, window_s=window, body={"staff": by, "why": why})
    except NotVoidable as exc:
        raise ActRefused(str(exc)) from None
