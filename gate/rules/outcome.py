"""The last steps every admission shares: site capacity, partial parties, attention flags.

A kind decides how many persons it would let through and how to record them; `finish` caps
that by the occupancy counter, says PARTIAL when fewer go through than asked, and turns the
answer into ATTENTION when a flag means staff must look first.
"""

from __future__ import annotations

from collections.abc import Callable

from gate.decision import Decision, Param, Use
from gate.reasons import Reason, Verdict
from gate.records import Entitlement
from gate.rules.context import Refusal, Scan, refusal


def asked(scan: Scan, at_once: int) -> int:
    """Persons asking: the party when given, else what the entitlement allows at once."""
    party = scan.ask.party
    return party if party is not None and party > 0 else at_once


def check_capacity(scan: Scan) -> Refusal | int | None:
    """Free places under the occupancy limit, None without a limit, SITE_FULL when none are free."""
    capacity = scan.site.capacity
    if capacity is None:
        return None
    free = capacity - scan.site.inside
    if free <= 0:
        return refusal(Reason.SITE_FULL, capacity=capacity)
    return free


def attention(ent: Entitlement) -> Reason | None:
    flags = ent.flags
    if not flags:
        return None
    if "id_check" in flags:
        return Reason.ID_CHECK
    if "child" in flags:
        return Reason.CHILD
    return None


def finish(
    scan: Scan,
    ent: Entitlement,
    *,
    want: int,
    allowed: int,
    plan: Callable[[int], tuple[Use, ...]],
    balance: Callable[[int], int | None] | None = None,
    show: str | None = None,
    covered: Callable[[int], tuple[str, ...]] | None = None,
    to_pay: int | None = None,
) -> Decision | Refusal:
    """Cap by capacity, then admit `min(want, allowed, free)` persons, recorded by `plan(admitted)`.

    The decision names the entitlement of the first planned use: for a credit pool, the
    membership that pays first, with the items its credits cover (`covered(admitted)`).
    """
    free = check_capacity(scan)
    if isinstance(free, Refusal):
        return free
    admitted = min(want, allowed) if free is None else min(want, allowed, free)
    params: dict[str, Param] = {}
    reason = Reason.OK
    if admitted < want:
        reason = Reason.PARTIAL
        params = {"admitted": admitted, "asked": want, "need_tickets": want - admitted}
    if show is not None:
        params["show"] = show
    verdict = Verdict.ADMIT
    flagged = None if scan.ask.attended else attention(ent)
    if flagged is not None:
        verdict, reason = Verdict.ATTENTION, flagged
    uses = plan(admitted)
    return Decision(
        verdict=verdict,
        reason=reason,
        params=params,
        admitted=admitted,
        balance=balance(admitted) if balance is not None else None,
        holder=scan.holder,
        entitlement_id=uses[0].entitlement_id if uses else ent.id,
        kind=ent.kind,
        plan=uses,
        covered=covered(admitted) if covered is not None else (),
        to_pay=to_pay,
    )
