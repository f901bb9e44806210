"""Exits, codes resolving to several entitlements, and visits over several scans."""

from __future__ import annotations

import datetime as dt

import pytest

from gate.decision import Lane, Use
from gate.reasons import Reason, Verdict
from gate.records import Access, Entitlement

from .build import LANE, at, check, credit, membership, recorded, reservation, subscription, ticket, use, voucher

DOORS_OPEN = at(2026, 3, 14, 19, 30)


@pytest.mark.parametrize(
    "ent",
    [
        membership(state="revoked"),
        membership(expires_on=dt.date(2025, 1, 1)),
        membership(mode="test"),
        ticket(performance="hamlet-2"),
        reservation(),
        subscription(state="frozen"),
        credit(credits=0),
        voucher(),
    ],
)
def test_a_known_code_always_lets_its_holder_out(ent: Entitlement) -> None:
    d = check(ent, when=DOORS_OPEN, direction="exit")
    assert (d.verdict, d.reason, d.admitted, d.params) == (Verdict.ADMIT, Reason.EXIT, 1, {})
    (u,) = d.plan
    assert (u.direction, u.persons, u.held, u.credits) == ("exit", 1, True, 0)
    assert d.entitlement_id == u.entitlement_id


def test_exit_for_a_party_records_the_show() -> None:
    d = check(ticket(pax=3), when=DOORS_OPEN, direction="exit", party=3)
    assert d.admitted == 3
    (u,) = d.plan
    assert (u.persons, u.performance, u.event) == (3, "hamlet-1", "hamlet")


def test_exit_of_an_unknown_code_is_still_unknown() -> None:
    assert check(when=DOORS_OPEN, direction="exit").reason is Reason.UNKNOWN_CODE


def test_shared_code_takes_the_first_that_admits() -> None:
    used = ticket("t1")
    fresh = ticket("t2")
    uses = [use(used, at(2026, 3, 14, 19, 5), performance="hamlet-1", event="hamlet")]
    d = check(used, fresh, when=DOORS_OPEN, uses=uses)
    assert d.admits and d.entitlement_id == "t2"
    assert d.plan[0].entitlement_id == "t2"


def test_when_none_admits_the_first_refusal_is_given() -> None:
    expired = membership(expires_on=dt.date(2026, 1, 31))
    late = ticket(performance="hamlet-1")
    d = check(expired, late, when=at(2026, 3, 14, 23))
    assert (d.reason, d.entitlement_id, d.kind) == (Reason.EXPIRED, "m1", "membership")


def test_attention_counts_as_admitting_among_candidates() -> None:
    flagged = ticket("t1", flags=("child",))
    other = ticket("t2")
    d = check(flagged, other, when=DOORS_OPEN)
    assert (d.verdict, d.reason, d.entitlement_id) == (Verdict.ATTENTION, Reason.CHILD, "t1")


def test_credit_pool_among_other_candidates() -> None:
    m = membership(state="blocked")
    a = credit("a", purchased_at=at(2026, 1, 1))
    b = credit("b", purchased_at=at(2026, 2, 1))
    d = check(m, b, a, when=DOORS_OPEN)
    assert d.admits and d.entitlement_id == "a"


def test_a_visit_with_reentry() -> None:
    t = ticket(reentry=True, pax=2, access=Access(exit_before_reentry=True))
    uses: list[Use] = []
    d = check(t, when=at(2026, 3, 14, 19, 10), uses=uses)
    assert d.admitted == 2
    uses += recorded(d)
    assert check(t, when=at(2026, 3, 14, 19, 11), uses=uses).reason is Reason.EXIT_REQUIRED
    d = check(t, when=at(2026, 3, 14, 19, 40), uses=uses, direction="exit")
    uses += recorded(d)
    d = check(t, when=at(2026, 3, 14, 19, 45), uses=uses)
    assert d.admits and d.admitted == 1


def test_a_hold_then_commit_then_rescan() -> None:
    m = membership()
    d = check(m, when=at(2026, 3, 10, 10))
    held = recorded(d, held=True)
    assert check(m, when=at(2026, 3, 10, 10, 0, 2), uses=held).reason is Reason.IN_PROGRESS
    assert check(m, when=at(2026, 3, 10, 10, 0, 9), uses=recorded(d)).admits


def test_decide_does_not_depend_on_lane_objects_beyond_their_values() -> None:
    same = Lane(id=LANE.id, zone=LANE.zone, product=LANE.product)
    assert check(membership(), when=DOORS_OPEN, lane=same) == check(membership(), when=DOORS_OPEN)
