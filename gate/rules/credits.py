"""Credit memberships: item credits spent first-in-first-out across all of a holder's memberships.

The ledger resolves a scanned credit membership together with the holder's other ones; they
form one pool. The oldest purchase pays first (not the soonest expiry: that is what members
were sold), and the cheapest item takes a credit first, so a partial commit, which trims the
most expensive items from the end, keeps both orders intact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gate.decision import Decision, Use
from gate.reasons import Reason
from gate.records import CreditMembership
from gate.rules.access import check_access, check_mode, check_state
from gate.rules.context import Refusal, Scan, refusal
from gate.rules.outcome import asked, finish
from gate.rules.periods import day_end, next_midnight, zone


def credit_ends_at(cm: CreditMembership) -> datetime:
    """The last instant it is valid: 23:59:59.999999 on expires_on where it was bought."""
    return day_end(cm.expires_on, zone(cm.purchase_tz))


def credit_active(cm: CreditMembership, at: datetime) -> bool:
    """Valid at this instant: from the purchase instant through the end of the expiry day."""
    ts = at.timestamp()
    return cm.purchased_at.timestamp() <= ts <= credit_ends_at(cm).timestamp()


def credit_remaining(cm: CreditMembership, uses: Sequence[Use]) -> int:
    """Credits bought minus the credits of its held and committed uses."""
    return cm.credits - sum(u.credits for u in uses if u.entitlement_id == cm.id)


def check_validity(scan: Scan, cm: CreditMembership) -> Refusal | None:
    ts = scan.ts
    if ts < cm.purchased_at.timestamp():
        return refusal(Reason.NOT_YET_VALID, valid_from=scan.in_site(cm.purchased_at))
    if ts > credit_ends_at(cm).timestamp():
        expired_at = next_midnight(cm.expires_on, zone(cm.purchase_tz))
        return refusal(Reason.EXPIRED, expired_at=scan.in_site(expired_at))
    return None


def _items(scan: Scan) -> tuple[str, ...]:
    if scan.ask.items:
        return scan.ask.items
    product = scan.lane.product
    if product is None:
        return ()
    party = scan.ask.party
    return (product,) * (party if party is not None and party > 0 else 1)


def decide_credits(
    scan: Scan, scanned: CreditMembership, memberships: Sequence[CreditMembership], uses: Sequence[Use]
) -> Decision | Refusal:
    """Decide for the scanned membership, paying from every membership in `memberships` (it included)."""
    refused = check_mode(scan, scanned) or check_state(scanned)
    if refused is not None:
        return refused
    items = _items(scan)
    if not items:
        return refusal(Reason.NOT_ELIGIBLE, product="")
    products = scan.schedule.products
    priced: list[tuple[int, str]] = []
    for item in items:
        product = products.get(item)
        if product is None:
            return refusal(Reason.NOT_ELIGIBLE, product=item)
        priced.append((product.price_cents, item))
    priced.sort(key=lambda p: p[0])  # stable: equal prices keep the order asked

    mode = scanned.mode
    holders = [cm for cm in memberships if cm.state == "active" and cm.mode == mode]
    ids = {cm.id for cm in memberships}
    pool_uses = tuple(u for u in uses if u.entitlement_id in ids)
    active = sorted(
        (cm for cm in holders if check_validity(scan, cm) is None),
        key=lambda cm: (cm.purchased_at.timestamp(), cm.id),
    )
    remaining = [credit_remaining(cm, pool_uses) for cm in active]
    left = list(remaining)
    zero_takes_credit = scan.site.zero_price_takes_credit

    # Each covered item: (index into `active`, credits taken, product), in price order.
    covered: list[tuple[int, int, str]] = []
    to_pay = 0  # the items no credit covers: the visitor pays for them or goes without
    for price, item in priced:
        if price == 0 and not zero_takes_credit:
            # Free: recorded on the first eligible membership that still has credits, else on
            # any active eligible one; it takes nothing, so a used-up one is not being offered.
            payer = next((i for i, cm in enumerate(active) if remaining[i] > 0 and item in cm.eligible_products), None)
            if payer is None:
                payer = next((i for i, cm in enumerate(active) if item in cm.eligible_products), None)
            if payer is not None:
                covered.append((payer, 0, item))
            continue
        payer = next((i for i, cm in enumerate(active) if left[i] > 0 and item in cm.eligible_products), None)
        if payer is not None:
            left[payer] -= 1
            covered.append((payer, 1, item))
        else:
            to_pay += price

    if not covered:
        if not any(item in cm.eligible_products for cm in holders for item in items):
            return refusal(Reason.NOT_ELIGIBLE, product=items[0])
        own = check_validity(scan, scanned)
        if own is not None and not any(r > 0 for r in remaining):
            return own
        return refusal(Reason.NO_CREDIT, balance=0)

    allowed = check_access(scan, ((scanned.access, None),), pool_uses, opening_hours=True)
    if isinstance(allowed, Refusal):
        return allowed
    pool_balance = sum(r for r in remaining if r > 0)

    def plan(admitted: int) -> tuple[Use, ...]:
        persons: dict[int, list[int]] = {}
        for payer, credit, _ in covered[:admitted]:
            share = persons.setdefault(payer, [0, 0])
            share[0] += 1
            share[1] += credit
        return tuple(scan.use(active[i].id, p, credits=c) for i, (p, c) in sorted(persons.items()))

    def balance(admitted: int) -> int:
        return pool_balance - sum(credit for _, credit, _ in covered[:admitted])

    def paid_for(admitted: int) -> tuple[str, ...]:
        return tuple(item for _, _, item in covered[:admitted])

    return finish(
        scan,
        scanned,
        want=asked(scan, len(items)),
        allowed=min(len(covered), allowed),
        plan=plan,
        balance=balance,
        covered=paid_for,
        to_pay=to_pay,
    )
