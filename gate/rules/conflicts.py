"""Double uses: which of an entitlement's redemptions took more than it allows, given the ones before.

Two devices cut off from each other each decide on what they know, so both may admit the
one single-entry ticket. Once their events meet (at the hub), the redemptions are put in the
site's order (by time, then device) and the entitlement's own allowance is counted through
them: a redemption that finds nothing left is a double use. Pure: the caller gives the
record and the uses, redemption by redemption, already in order.

What is counted, per kind (the same counts the rules decide by):
- a single-entry ticket or a reservation: persons entered (or inside, for a ticket that may
  re-enter) against its `pax`; a multiple-entry ticket is never overdrawn;
- a voucher: one redemption;
- a credit membership: credits against those bought.
A membership's or subscription's per-period limits are not judged here (their periods need
the venue's calendar and time zone): two devices admitting one member in one day are not
reported as a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence

from gate.decision import Use
from gate.records import CreditMembership, Entitlement, Reservation, Ticket, Voucher
from gate.rules.ticket import inside


def overdrawn(ent: Entitlement, redemptions: Sequence[Sequence[Use]]) -> list[int]:
    """The positions in `redemptions` (each one redemption's uses, in the site's order) that took
    more of `ent` than was left after the ones before them."""
    mine = [[u for u in uses if u.entitlement_id == ent.id and not u.held] for uses in redemptions]
    if isinstance(ent, Ticket | Reservation):
        if isinstance(ent, Ticket) and ent.entries == "multiple":
            return []
        return _persons(ent.pax, isinstance(ent, Ticket) and ent.reentry, mine)
    if isinstance(ent, Voucher):
        taken = [i for i, uses in enumerate(mine) if uses]
        return taken[1:]
    if isinstance(ent, CreditMembership):
        return _over(ent.credits, [sum(u.credits for u in uses) for uses in mine])
    return []


def _persons(pax: int, reentry: bool, redemptions: list[list[Use]]) -> list[int]:
    found: list[int] = []
    before: list[Use] = []
    for i, uses in enumerate(redemptions):
        entering = sum(u.persons for u in uses if u.direction == "entry")
        if entering:
            used = inside(before) if reentry else sum(u.persons for u in before if u.direction == "entry")
            if used + entering > pax:
                found.append(i)
        before.extend(uses)
    return found


def _over(allowed: int, taken: list[int]) -> list[int]:
    found: list[int] = []
    total = 0
    for i, amount in enumerate(taken):
        total += amount
        if amount and total > allowed:
            found.append(i)
    return found
