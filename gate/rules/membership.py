"""Memberships: a validity period in local days and an ordered list of benefits.

The first entry benefit whose own access and the membership's access both pass is applied,
and its index is recorded on the use so that benefit's limits count only its own uses. A
membership opens lanes: a kiosk that reads one says so and consumes no visit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from gate.decision import Decision, Use
from gate.reasons import Reason
from gate.records import EntryBenefit, Membership, Product
from gate.rules.access import check_access, check_mode, check_state, in_scope
from gate.rules.context import Refusal, Scan, refusal
from gate.rules.outcome import asked, finish
from gate.rules.periods import day_start, last_day_of, midnight, midnight_after, next_midnight


def membership_expires_on(m: Membership, products: Mapping[str, Product]) -> dt.date | None:
    """The last valid local day: as given, else valid_from plus the product's validity minus one day.

    None when neither is known: the membership never expires.
    """
    if m.expires_on is not None:
        return m.expires_on
    if m.product is None:
        return None
    product = products.get(m.product)
    if product is None or product.validity is None:
        return None
    return last_day_of(m.valid_from, product.validity)


def check_validity(scan: Scan, m: Membership) -> Refusal | None:
    if scan.ts < midnight(m.valid_from, scan.tz):
        return refusal(Reason.NOT_YET_VALID, valid_from=day_start(m.valid_from, scan.tz))
    last = membership_expires_on(m, scan.schedule.products)
    if last is not None and scan.ts >= midnight_after(last, scan.tz):
        return refusal(Reason.EXPIRED, expired_at=next_midnight(last, scan.tz))
    return None


def decide_membership(scan: Scan, m: Membership, uses: tuple[Use, ...]) -> Decision | Refusal:
    refused = check_mode(scan, m) or check_state(m) or check_validity(scan, m)
    if refused is not None:
        return refused
    entry = [(i, b) for i, b in enumerate(m.benefits) if isinstance(b, EntryBenefit)]
    if not entry:
        return refusal(Reason.NO_ENTRY_BENEFIT)
    if scan.lane.kiosk:
        return refusal(Reason.FOR_LANES)  # a visit is for the lanes, whatever its access here
    first: Refusal | None = None
    first_in_scope: Refusal | None = None
    for index, benefit in entry:
        result = check_access(scan, ((m.access, None), (benefit.access, index)), uses, opening_hours=True)
        if isinstance(result, Refusal):
            first = first or result
            if first_in_scope is None and in_scope(scan, benefit.access):
                first_in_scope = result
            continue

        def plan(admitted: int, index: int = index) -> tuple[Use, ...]:
            return (scan.use(m.id, admitted, benefit=index),)

        # One person per scan: a member's card is the member's.
        return finish(scan, m, want=asked(scan, 1), allowed=1, plan=plan)
    assert first is not None
    return first_in_scope or first
