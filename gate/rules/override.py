"""A staff override: admit despite a refusal, recording one use as the entitlement's rules count uses.

Staff override a refusal they judged wrong (a ticket refused for a delayed show, a member
whose card will not read). The lane then opens like for any admit, and later limits must see
what happened, so the admission is recorded as one use of the entitlement the refusal was
about, in the unit its rules count:

- a ticket or a reservation: its persons, for its performance (a seat of that show);
- a membership: one visit; a subscription: one seat of the show on now, if one is;
- a credit membership: one person and one credit if one is left, never a negative balance;
- a voucher: its one redemption (no admission is created: staff let the holder in);
- no entitlement (an unknown or unreadable code): one person, a use of nothing.

Pure, like every rule: the situation holds the entitlement, its uses and the schedule.
"""

from __future__ import annotations

from gate.decision import Decision, Param, Situation, Use
from gate.reasons import Reason, Verdict
from gate.records import CreditMembership, Entitlement, Reservation, Subscription, Ticket
from gate.rules.context import Refusal, Scan
from gate.rules.credits import credit_remaining
from gate.rules.performances import current_performances


def override(situation: Situation, **params: Param) -> Decision:
    """The admit staff give for the situation's first entitlement (none: a use of nothing).

    `params` go into the decision (who, why: the texts show them).
    """
    scan = Scan(situation)
    entitlement = situation.entitlements[0] if situation.entitlements else None
    persons = 1
    plan: tuple[Use, ...] = ()
    balance: int | None = None
    if entitlement is not None:
        persons = entitlement.pax if isinstance(entitlement, Ticket | Reservation) else 1
        use, balance = _one_use(scan, entitlement, persons, situation.uses)
        plan = (use,)
    return Decision(
        verdict=Verdict.ADMIT,
        reason=Reason.OVERRIDE,
        params=dict(params),
        admitted=persons,
        balance=balance,
        holder=scan.holder,
        entitlement_id=entitlement.id if entitlement is not None else None,
        kind=entitlement.kind if entitlement is not None else None,
        plan=plan,
    )


def _one_use(scan: Scan, ent: Entitlement, persons: int, uses: tuple[Use, ...]) -> tuple[Use, int | None]:
    if isinstance(ent, CreditMembership):
        left = credit_remaining(ent, uses)
        credits = 1 if left > 0 else 0
        return scan.use(ent.id, persons, credits=credits), left - credits
    performance: str | None = None
    if isinstance(ent, Ticket | Reservation):
        performance = ent.performance
    elif isinstance(ent, Subscription):
        on_now = current_performances(scan, ent.events)
        performance = on_now[0].id if not isinstance(on_now, Refusal) and on_now else None
    perf = scan.schedule.performances.get(performance) if performance is not None else None
    event = perf.event if perf is not None else None
    return scan.use(ent.id, persons, performance=performance, event=event), None
