"""Double uses after a partition: which redemptions took more than the entitlement allows."""

from __future__ import annotations

from gate.rules.conflicts import overdrawn
from tests.rules.build import at, credit, membership, reservation, ticket, use, voucher

T0 = at(2026, 3, 14, 19)


def test_a_single_entry_ticket_admitted_at_two_lanes_is_one_double_use() -> None:
    t = ticket()
    taken = [[use(t, T0, lane="north-1")], [use(t, T0, lane="south-1")]]
    assert overdrawn(t, taken) == [1]


def test_a_party_ticket_is_overdrawn_only_past_its_persons() -> None:
    t = ticket(pax=4)
    taken = [[use(t, T0, persons=2)], [use(t, T0, persons=2)], [use(t, T0, persons=1)]]
    assert overdrawn(t, taken) == [2]


def test_a_multiple_entry_ticket_is_never_overdrawn() -> None:
    t = ticket(entries="multiple")
    assert overdrawn(t, [[use(t, T0)], [use(t, T0)]]) == []


def test_a_reentry_ticket_counts_who_is_inside() -> None:
    t = ticket(reentry=True)
    out_and_in = [[use(t, T0)], [use(t, T0, "exit")], [use(t, T0)]]
    assert overdrawn(t, out_and_in) == []
    twice_in = [[use(t, T0)], [use(t, T0)]]
    assert overdrawn(t, twice_in) == [1]


def test_a_voucher_redeemed_by_two_kiosks_is_one_double_use() -> None:
    v = voucher()
    taken = [[use(v, T0, performance="hamlet-1")], [use(v, T0, performance="hamlet-2")]]
    assert overdrawn(v, taken) == [1]


def test_credits_are_overdrawn_by_the_redemption_that_passes_the_balance() -> None:
    c = credit(credits=3)
    taken = [[use(c, T0, credits=2)], [use(c, T0, credits=1)], [use(c, T0, credits=1)]]
    assert overdrawn(c, taken) == [2]


def test_a_reservation_counts_its_persons() -> None:
    r = reservation(pax=2)
    assert overdrawn(r, [[use(r, T0, persons=2)], [use(r, T0, persons=1)]]) == [1]


def test_uses_of_other_entitlements_and_held_uses_do_not_count() -> None:
    t = ticket()
    taken = [[use(t, T0)], [use("another", T0)], [use(t, T0, held=True)]]
    assert overdrawn(t, taken) == []


def test_memberships_are_not_judged() -> None:
    m = membership()
    assert overdrawn(m, [[use(m, T0)], [use(m, T0)]]) == []
