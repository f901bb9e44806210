"""One read, one decision: exits, dispatch by kind, and codes that resolve to several entitlements."""

from __future__ import annotations

from gate.decision import Decision, Situation, Use
from gate.reasons import Reason, Verdict
from gate.records import (
    CreditMembership,
    Entitlement,
    Membership,
    Reservation,
    Subscription,
    Ticket,
    Voucher,
)
from gate.rules.context import Refusal, Scan, deny, refusal, uses_of
from gate.rules.credits import decide_credits
from gate.rules.membership import decide_membership
from gate.rules.reservation import decide_reservation
from gate.rules.subscription import decide_subscription
from gate.rules.ticket import decide_ticket
from gate.rules.voucher import decide_voucher


def decide(situation: Situation) -> Decision:
    """The answer to one read: pure, from the situation alone."""
    scan = Scan(situation)
    entitlements = situation.entitlements
    if not entitlements:
        return deny(scan, None, refusal(Reason.UNKNOWN_CODE))
    if scan.ask.direction == "exit":
        return _exit(scan, entitlements[0])
    uses = situation.uses
    first: tuple[Entitlement, Refusal] | None = None
    pooled = False
    # Several candidates (a bundle, a shared code, a voucher and its admission): the first
    # that admits wins; when none does, the first one's refusal is the one to explain.
    for ent in entitlements:
        if isinstance(ent, CreditMembership):
            if pooled:
                continue
            pooled = True
            pool = tuple(e for e in entitlements if isinstance(e, CreditMembership))
            result = decide_credits(scan, ent, pool, uses)
        else:
            result = _decide_one(scan, ent, uses if len(entitlements) == 1 else _uses_for(ent, uses))
        if isinstance(result, Decision):
            return result
        if first is None:
            first = (ent, result)
    assert first is not None
    return deny(scan, first[0], first[1])


def _uses_for(ent: Entitlement, uses: tuple[Use, ...]) -> tuple[Use, ...]:
    """One candidate's uses; a voucher's admission also gets its voucher's (the redemption)."""
    voucher = ent.from_voucher if isinstance(ent, Ticket) else None
    if voucher is None:
        return uses_of(ent.id, uses)
    return tuple(u for u in uses if u.entitlement_id in (ent.id, voucher))


def _decide_one(scan: Scan, ent: Entitlement, uses: tuple[Use, ...]) -> Decision | Refusal:
    lane = scan.lane
    if lane.offline_s is not None and ent.kind in lane.offline_refuses:
        # Another device may have used it while this one could not hear of it.
        return refusal(Reason.OFFLINE, minutes=int(lane.offline_s // 60), kind=ent.kind)
    if isinstance(ent, Ticket):
        return decide_ticket(scan, ent, uses)
    if isinstance(ent, Membership):
        return decide_membership(scan, ent, uses)
    if isinstance(ent, Subscription):
        return decide_subscription(scan, ent, uses)
    if isinstance(ent, Reservation):
        return decide_reservation(scan, ent, uses)
    if isinstance(ent, Voucher):
        return decide_voucher(scan, ent, uses)
    raise TypeError(f"no rules for {type(ent).__name__}")  # credit memberships are pooled by the caller


def _exit(scan: Scan, ent: Entitlement) -> Decision:
    """Any known code lets its holder out, whatever its state or validity: nobody is trapped inside."""
    party = scan.ask.party
    persons = party if party is not None and party > 0 else 1
    performance: str | None = None
    if isinstance(ent, Ticket | Reservation):
        performance = ent.performance
    perf = scan.schedule.performances.get(performance) if performance is not None else None
    event = perf.event if perf is not None else None
    return Decision(
        verdict=Verdict.ADMIT,
        reason=Reason.EXIT,
        admitted=persons,
        holder=scan.holder,
        entitlement_id=ent.id,
        kind=ent.kind,
        plan=(scan.use(ent.id, persons, direction="exit", performance=performance, event=event),),
    )
