"""Credit memberships: one FIFO pool per holder, cheapest item first, validity in the purchase zone."""

from __future__ import annotations

import datetime as dt

from gate.decision import Lane, Site
from gate.reasons import Reason, Verdict
from gate.records import Access, Limit
from gate.rules import credit_active, credit_ends_at, credit_remaining

from .build import KIOSK, LONDON, NEW_YORK, PARIS, at, check, credit, membership, use

NOON = at(2026, 3, 10, 12)


def test_one_entry_takes_one_credit_and_shows_the_balance() -> None:
    d = check(credit(credits=5), when=NOON)
    assert (d.verdict, d.reason, d.admitted, d.balance) == (Verdict.ADMIT, Reason.OK, 1, 4)
    assert (d.entitlement_id, d.kind, d.holder) == ("c1", "credit_membership", "Marie-Claire D.")
    (u,) = d.plan
    assert (u.entitlement_id, u.persons, u.credits, u.held, u.direction) == ("c1", 1, 1, True, "entry")


def test_fifo_by_purchase_time_not_by_expiry() -> None:
    older = credit("old", purchased_at=at(2026, 1, 5), expires_on=dt.date(2026, 12, 31), credits=2)
    newer = credit("new", purchased_at=at(2026, 2, 5), expires_on=dt.date(2026, 4, 30), credits=2)
    # The newer card is scanned, and expires first; the older purchase still pays first.
    d = check(newer, older, when=NOON)
    assert d.admits and d.entitlement_id == "old"
    assert [(u.entitlement_id, u.credits) for u in d.plan] == [("old", 1)]
    assert d.balance == 3


def test_same_purchase_instant_orders_by_id() -> None:
    b = credit("b", purchased_at=at(2026, 1, 5), credits=1)
    a = credit("a", purchased_at=at(2026, 1, 5), credits=1)
    assert check(b, a, when=NOON).entitlement_id == "a"


def test_party_spans_memberships_in_fifo_order() -> None:
    older = credit("old", purchased_at=at(2026, 1, 5), credits=3)
    newer = credit("new", purchased_at=at(2026, 2, 5), credits=3)
    uses = [use(older, at(2026, 2, 1), credits=2)]
    d = check(older, newer, when=NOON, uses=uses, party=3)
    assert d.reason is Reason.OK and d.admitted == 3
    assert [(u.entitlement_id, u.persons, u.credits) for u in d.plan] == [("old", 1, 1), ("new", 2, 2)]
    assert d.balance == 1


def test_party_larger_than_the_credits_left_is_partial() -> None:
    d = check(credit(credits=2), when=NOON, party=3)
    assert (d.verdict, d.reason, d.admitted, d.balance) == (Verdict.ADMIT, Reason.PARTIAL, 2, 0)
    assert d.params == {"admitted": 2, "asked": 3, "need_tickets": 1}


def test_cheapest_item_takes_the_credit_first() -> None:
    cm = credit(credits=1, eligible_products=("workshop", "audioguide"))
    d = check(cm, when=NOON, lane=KIOSK, items=("workshop", "audioguide"))
    assert d.reason is Reason.PARTIAL and d.admitted == 1 and d.balance == 0
    assert d.params == {"admitted": 1, "asked": 2, "need_tickets": 1}
    assert d.plan[0].credits == 1


def test_each_item_takes_a_credit_only_from_a_membership_eligible_for_it() -> None:
    guides = credit("guides", purchased_at=at(2026, 1, 1), eligible_products=("audioguide",), credits=3)
    entries = credit("entries", purchased_at=at(2026, 2, 1), eligible_products=("entry-adult",), credits=3)
    d = check(entries, guides, when=NOON)
    assert d.entitlement_id == "entries" and d.balance == 5
    d = check(entries, guides, when=NOON, lane=KIOSK, items=("entry-adult", "audioguide"))
    assert d.admitted == 2 and d.entitlement_id == "guides"
    assert [(u.entitlement_id, u.credits) for u in d.plan] == [("guides", 1), ("entries", 1)]


def test_zero_priced_items_take_no_credit_by_default() -> None:
    d = check(credit(credits=5), when=NOON, lane=KIOSK, items=("entry-child", "entry-adult"))
    assert d.reason is Reason.OK and d.admitted == 2 and d.balance == 4
    assert [(u.persons, u.credits) for u in d.plan] == [(2, 1)]


def test_zero_priced_items_take_a_credit_when_configured() -> None:
    site = Site(tz=PARIS, zero_price_takes_credit=True)
    d = check(credit(credits=5), when=NOON, lane=KIOSK, site=site, items=("entry-child", "entry-adult"))
    assert d.admitted == 2 and d.balance == 3
    assert [(u.persons, u.credits) for u in d.plan] == [(2, 2)]


def test_free_item_on_a_used_up_membership_still_enters_without_credit() -> None:
    cm = credit(credits=1)
    d = check(cm, when=NOON, lane=KIOSK, items=("entry-child",), uses=[use(cm, at(2026, 2, 1), credits=1)])
    assert d.admits and d.balance == 0 and d.plan[0].credits == 0


def test_validity_starts_at_the_purchase_instant() -> None:
    cm = credit(purchased_at=at(2026, 3, 10, 14, 30, tz=LONDON), purchase_tz="Europe/London")
    d = check(cm, when=at(2026, 3, 10, 14, 29, 59, tz=LONDON))
    assert d.reason is Reason.NOT_YET_VALID
    assert d.params == {"valid_from": at(2026, 3, 10, 15, 30)}  # shown in the site's zone
    assert check(cm, when=at(2026, 3, 10, 14, 30, tz=LONDON)).admits


def test_valid_until_2359_in_the_purchase_zone_across_the_dst_change() -> None:
    london = credit("ldn", purchase_tz="Europe/London", expires_on=dt.date(2026, 3, 29))
    paris = credit("par", purchase_tz="Europe/Paris", expires_on=dt.date(2026, 3, 29))
    # 29 March 2026 is the spring change: London is UTC+1 and Paris UTC+2 by the evening.
    assert credit_ends_at(london) == dt.datetime(2026, 3, 29, 22, 59, 59, 999999, tzinfo=dt.UTC)
    assert credit_ends_at(paris) == dt.datetime(2026, 3, 29, 21, 59, 59, 999999, tzinfo=dt.UTC)
    last_paris = at(2026, 3, 29, 23, 59, 59, 999999)
    assert check(paris, when=last_paris).admits
    d = check(paris, when=at(2026, 3, 30, 0, 0))
    assert d.reason is Reason.EXPIRED and d.params == {"expired_at": at(2026, 3, 30, 0, 0)}
    # The London one is still valid an hour after midnight in Paris.
    assert check(london, when=at(2026, 3, 30, 0, 30)).admits
    assert check(london, when=at(2026, 3, 30, 0, 59, 59, 999999)).admits
    d = check(london, when=at(2026, 3, 30, 1, 0))
    assert d.reason is Reason.EXPIRED
    assert d.params == {"expired_at": at(2026, 3, 30, 0, 0, tz=LONDON)}


def test_validity_end_at_a_site_in_another_zone() -> None:
    cm = credit(purchase_tz="Europe/London", expires_on=dt.date(2026, 3, 29))
    site = Site(tz=NEW_YORK)
    # 23:59:59 London summer time is 18:59:59 in New York (already on summer time since 8 March).
    assert check(cm, when=at(2026, 3, 29, 18, 59, 59, tz=NEW_YORK), site=site).admits
    d = check(cm, when=at(2026, 3, 29, 19, 0, tz=NEW_YORK), site=site)
    assert d.reason is Reason.EXPIRED
    assert d.params["expired_at"] == at(2026, 3, 29, 19, 0, tz=NEW_YORK)
    assert d.params["expired_at"].tzinfo is NEW_YORK  # type: ignore[union-attr]


def test_credit_helpers() -> None:
    cm = credit(credits=3, purchase_tz="Europe/London", expires_on=dt.date(2026, 3, 29))
    assert credit_active(cm, cm.purchased_at)
    assert not credit_active(cm, cm.purchased_at - dt.timedelta(microseconds=1))
    assert credit_active(cm, dt.datetime(2026, 3, 29, 22, 59, 59, 999999, tzinfo=dt.UTC))
    assert not credit_active(cm, dt.datetime(2026, 3, 29, 23, 0, tzinfo=dt.UTC))
    uses = [use(cm, NOON, credits=1), use("other", NOON, credits=1), use(cm, NOON, credits=1, held=True)]
    assert credit_remaining(cm, uses) == 1


def test_used_up_and_expired_memberships_are_never_offered() -> None:
    used_up = credit("used", purchased_at=at(2025, 1, 1), credits=1)
    expired = credit("gone", purchased_at=at(2025, 6, 1), expires_on=dt.date(2026, 1, 31), credits=5)
    live = credit("live", purchased_at=at(2026, 2, 1), credits=2)
    uses = [use(used_up, at(2025, 2, 1), credits=1)]
    d = check(used_up, expired, live, when=NOON, uses=uses)
    assert d.admits and d.entitlement_id == "live" and d.balance == 1
    assert [u.entitlement_id for u in d.plan] == ["live"]


def test_scanned_expired_card_pays_from_the_holders_active_one() -> None:
    expired = credit("gone", purchased_at=at(2025, 1, 1), expires_on=dt.date(2026, 1, 31))
    live = credit("live", purchased_at=at(2026, 2, 1))
    d = check(expired, live, when=NOON)
    assert d.admits and d.entitlement_id == "live"


def test_scanned_expired_card_alone_is_refused_as_expired() -> None:
    expired = credit(purchased_at=at(2025, 1, 1), expires_on=dt.date(2026, 1, 31))
    d = check(expired, when=NOON)
    assert d.reason is Reason.EXPIRED and d.entitlement_id == "c1"
    assert d.params == {"expired_at": at(2026, 2, 1, 0)}


def test_scanned_card_not_yet_valid_alone() -> None:
    d = check(credit(purchased_at=at(2026, 4, 1, 9)), when=NOON)
    assert d.reason is Reason.NOT_YET_VALID and d.params == {"valid_from": at(2026, 4, 1, 9)}


def test_used_up_pool_has_no_credit() -> None:
    cm = credit(credits=2)
    d = check(cm, when=NOON, uses=[use(cm, at(2026, 2, 1), credits=2)])
    assert (d.verdict, d.reason, d.params, d.admitted) == (Verdict.DENY, Reason.NO_CREDIT, {"balance": 0}, 0)


def test_zero_credit_membership_has_no_credit() -> None:
    assert check(credit(credits=0), when=NOON).reason is Reason.NO_CREDIT


def test_product_no_membership_pays_for_is_not_eligible() -> None:
    d = check(credit(), when=NOON, lane=KIOSK, items=("workshop",))
    assert d.reason is Reason.NOT_ELIGIBLE and d.params == {"product": "workshop"}


def test_unknown_product_is_not_eligible() -> None:
    d = check(credit(), when=NOON, lane=KIOSK, items=("mystery",))
    assert d.reason is Reason.NOT_ELIGIBLE and d.params == {"product": "mystery"}


def test_lane_without_product_and_no_items() -> None:
    d = check(credit(), when=NOON, lane=KIOSK)
    assert d.reason is Reason.NOT_ELIGIBLE and d.params == {"product": ""}


def test_pool_ignores_other_modes_and_states() -> None:
    scanned = credit("scan", purchased_at=at(2026, 3, 1), credits=1)
    revoked = credit("rev", purchased_at=at(2026, 1, 1), state="revoked")
    test = credit("test", purchased_at=at(2026, 1, 2), mode="test")
    d = check(scanned, revoked, test, when=NOON)
    assert d.entitlement_id == "scan" and d.balance == 0


def test_revoked_scanned_card_is_refused_even_with_others() -> None:
    scanned = credit("scan", state="revoked")
    d = check(scanned, credit("other"), when=NOON)
    assert d.reason is Reason.REVOKED and d.entitlement_id == "scan"


def test_held_credit_counts_and_a_second_scan_is_in_progress() -> None:
    a = credit("a", purchased_at=at(2026, 1, 1), credits=1)
    b = credit("b", purchased_at=at(2026, 2, 1), credits=1)
    held = use(a, NOON - dt.timedelta(seconds=3), credits=1, held=True)
    d = check(b, a, when=NOON, uses=[held])
    assert d.reason is Reason.IN_PROGRESS


def test_pool_limits_count_uses_on_every_card_of_the_holder() -> None:
    a = credit("a", purchased_at=at(2026, 1, 1))
    b = credit("b", purchased_at=at(2026, 2, 1), access=Access(limits=(Limit(per="day", count=1),)))
    d = check(b, a, when=NOON, uses=[use(a, at(2026, 3, 10, 9), credits=1)])
    assert d.reason is Reason.LIMIT_REACHED


def test_capacity_trims_the_most_expensive_items() -> None:
    site = Site(tz=PARIS, capacity=100, inside=99)
    d = check(credit(), when=NOON, lane=KIOSK, site=site, items=("entry-adult", "audioguide"))
    assert d.reason is Reason.PARTIAL and d.admitted == 1 and d.balance == 4
    assert d.params == {"admitted": 1, "asked": 2, "need_tickets": 1}


def test_lane_product_repeated_for_the_party() -> None:
    d = check(credit(credits=5), when=NOON, lane=Lane(id="n", zone="main", product="entry-adult"), party=2)
    assert d.admitted == 2 and d.balance == 3 and d.plan[0].credits == 2


# --- what the credits cover, what is left to pay -------------------------------------------------


def test_the_decision_names_the_items_credits_cover_and_the_price_left_to_pay() -> None:
    cm = credit(credits=1, eligible_products=("workshop", "audioguide"))
    d = check(cm, when=NOON, lane=KIOSK, items=("workshop", "audioguide"))
    assert (d.covered, d.to_pay) == (("audioguide",), 2500)  # the workshop is left, at 25.00
    # A free item is covered without a credit; an item no membership pays for is to pay.
    d = check(credit(credits=5), when=NOON, lane=KIOSK, items=("workshop", "entry-adult", "entry-child"))
    assert (d.covered, d.to_pay, d.balance) == (("entry-child", "entry-adult"), 2500, 4)
    d = check(credit(credits=5), when=NOON, lane=KIOSK, items=("entry-adult", "audioguide"))
    assert (d.covered, d.to_pay) == (("audioguide", "entry-adult"), 0)


def test_a_party_at_a_lane_pays_for_whom_no_credit_is_left() -> None:
    d = check(credit(credits=1), when=NOON, party=3)
    assert (d.reason, d.admitted, d.covered, d.to_pay) == (Reason.PARTIAL, 1, ("entry-adult",), 3000)


def test_items_the_site_has_no_room_for_are_neither_covered_nor_to_pay() -> None:
    site = Site(tz=PARIS, capacity=10, inside=9)
    d = check(credit(credits=5), when=NOON, lane=KIOSK, site=site, items=("entry-adult", "audioguide"))
    assert (d.admitted, d.covered, d.to_pay) == (1, ("audioguide",), 0)


def test_other_kinds_and_refusals_carry_no_price() -> None:
    assert (check(membership(), when=NOON).covered, check(membership(), when=NOON).to_pay) == ((), None)
    d = check(credit(credits=0), when=NOON)
    assert (d.covered, d.to_pay) == ((), None)
