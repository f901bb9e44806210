"""Memberships: validity days, computed expiry, ordered benefits, one person per scan."""

from __future__ import annotations

import datetime as dt

import pytest

from gate.decision import Lane
from gate.reasons import Reason, Verdict
from gate.records import Access, DiscountBenefit, EntryBenefit, Limit, Membership, Period, Product
from gate.rules import membership_expires_on
from gate.rules.periods import add_period, last_day_of

from .build import KIOSK, LANE, SCHEDULE, at, check, membership, schedule, use, window

PRODUCTS = SCHEDULE.products


def test_admits_one_member_with_reduced_name_and_benefit_recorded() -> None:
    d = check(membership(), when=at(2026, 3, 10, 10))
    assert (d.verdict, d.reason, d.admitted) == (Verdict.ADMIT, Reason.OK, 1)
    assert d.holder == "Marie-Claire D."
    assert (d.entitlement_id, d.kind, d.balance) == ("m1", "membership", None)
    (u,) = d.plan
    assert (u.direction, u.persons, u.benefit, u.held, u.lane, u.zone) == ("entry", 1, 0, True, "north-1", "main")
    assert u.at == at(2026, 3, 10, 10).timestamp()


def test_anonymous_situation_has_no_holder_name() -> None:
    d = check(membership(), when=at(2026, 3, 10), holder=None)
    assert d.admits and d.holder is None


def test_not_yet_valid_until_local_midnight_of_first_day() -> None:
    m = membership(valid_from=dt.date(2026, 4, 1))
    d = check(m, when=at(2026, 3, 31, 23, 59, 59, 999999))
    assert d.reason is Reason.NOT_YET_VALID
    assert d.params == {"valid_from": at(2026, 4, 1, 0)}
    assert d.params["valid_from"].tzinfo is not None  # type: ignore[union-attr]
    assert check(m, when=at(2026, 4, 1, 0)).admits


def test_instant_given_in_another_zone_is_read_in_the_site_zone() -> None:
    m = membership(valid_from=dt.date(2026, 4, 1))
    # 22:30 UTC on 31 March is 00:30 on 1 April in Paris.
    assert check(m, when=dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)).admits
    assert not check(m, when=dt.datetime(2026, 3, 31, 21, 30, tzinfo=dt.UTC)).admits


def test_valid_through_the_last_second_of_its_last_day() -> None:
    m = membership(expires_on=dt.date(2026, 6, 30))
    assert check(m, when=at(2026, 6, 30, 23, 59, 59, 999999)).admits
    d = check(m, when=at(2026, 7, 1, 0))
    assert d.reason is Reason.EXPIRED and d.verdict is Verdict.DENY
    assert d.params == {"expired_at": at(2026, 7, 1, 0)}
    assert (d.holder, d.entitlement_id, d.kind) == ("Marie-Claire D.", "m1", "membership")


@pytest.mark.parametrize(
    ("product", "valid_from", "last_day"),
    [
        ("annual", dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
        ("annual", dt.date(2024, 2, 29), dt.date(2025, 2, 27)),  # Feb 29 + 1 year clamps to Feb 28
        ("thirty", dt.date(2026, 3, 10), dt.date(2026, 4, 8)),
        ("thirty", dt.date(2026, 2, 15), dt.date(2026, 3, 16)),
        ("monthly", dt.date(2026, 1, 31), dt.date(2026, 2, 27)),  # Jan 31 + 1 month = Feb 28, minus a day
        ("monthly", dt.date(2024, 1, 31), dt.date(2024, 2, 28)),  # leap year: Feb 29 minus a day
        ("monthly", dt.date(2026, 3, 15), dt.date(2026, 4, 14)),
        ("monthly", dt.date(2026, 12, 15), dt.date(2027, 1, 14)),
    ],
)
def test_expiry_computed_from_the_product_validity(product: str, valid_from: dt.date, last_day: dt.date) -> None:
    m = membership(product=product, valid_from=valid_from)
    assert membership_expires_on(m, PRODUCTS) == last_day
    assert check(m, when=at(last_day.year, last_day.month, last_day.day, 23, 59, 59)).admits
    after = last_day + dt.timedelta(days=1)
    d = check(m, when=at(after.year, after.month, after.day, 0, 0))
    assert d.reason is Reason.EXPIRED
    assert d.params["expired_at"] == at(after.year, after.month, after.day, 0)


def test_given_expiry_wins_over_the_product_validity() -> None:
    m = membership(product="annual", expires_on=dt.date(2026, 2, 1))
    assert membership_expires_on(m, PRODUCTS) == dt.date(2026, 2, 1)


def test_without_expiry_or_product_validity_it_never_expires() -> None:
    assert membership_expires_on(membership(), PRODUCTS) is None
    assert membership_expires_on(membership(product="entry-adult"), PRODUCTS) is None
    assert membership_expires_on(membership(product="unknown"), PRODUCTS) is None
    assert check(membership(), when=at(2040, 1, 1)).admits


def test_combined_period_adds_years_months_then_days() -> None:
    assert add_period(dt.date(2026, 1, 31), Period(years=1, months=1, days=1)) == dt.date(2027, 3, 1)
    assert last_day_of(dt.date(2026, 1, 1), Period(days=1)) == dt.date(2026, 1, 1)
    assert last_day_of(dt.date(2026, 11, 30), Period(months=3)) == dt.date(2027, 2, 27)


def test_expiry_across_dst_change_is_still_the_local_midnight() -> None:
    m = membership(expires_on=dt.date(2026, 3, 28))
    d = check(m, when=at(2026, 3, 29, 3, 30))
    assert d.params["expired_at"] == dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC)
    assert d.params["expired_at"].utcoffset() == dt.timedelta(hours=1)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("ent_mode", "lane_mode", "reason"),
    [("test", "live", Reason.TEST_AT_LIVE_LANE), ("live", "test", Reason.LIVE_AT_TEST_LANE)],
)
def test_test_and_live_never_mix(ent_mode: str, lane_mode: str, reason: Reason) -> None:
    lane = Lane(id="north-1", zone="main", mode=lane_mode)  # type: ignore[arg-type]
    d = check(membership(mode=ent_mode), when=at(2026, 3, 10), lane=lane)
    assert (d.verdict, d.reason) == (Verdict.DENY, reason)


def test_test_membership_at_test_lane_admits() -> None:
    lane = Lane(id="north-1", zone="main", mode="test")
    assert check(membership(mode="test"), when=at(2026, 3, 10), lane=lane).admits


def test_mode_is_checked_before_expiry() -> None:
    m = membership(mode="test", expires_on=dt.date(2026, 1, 31))
    assert check(m, when=at(2026, 3, 10)).reason is Reason.TEST_AT_LIVE_LANE


# --- benefits ----------------------------------------------------------------------------------


def _benefits() -> Membership:
    return membership(
        benefits=(
            DiscountBenefit(name="10% shop", percent=10),
            EntryBenefit(name="Morning free entry", access=Access(windows=(window("09:00", "12:00"),))),
            EntryBenefit(name="Free entry", access=Access(limits=(Limit(per="day", count=1),))),
        )
    )


def test_first_applicable_entry_benefit_is_applied() -> None:
    d = check(_benefits(), when=at(2026, 3, 10, 10))
    assert d.admits and d.plan[0].benefit == 1


def test_falls_to_the_second_benefit_when_the_first_does_not_apply() -> None:
    d = check(_benefits(), when=at(2026, 3, 10, 14))
    assert d.admits and d.plan[0].benefit == 2


def test_falls_to_the_second_benefit_when_the_first_limit_is_reached() -> None:
    m = membership(
        benefits=(
            EntryBenefit(name="Member entry", access=Access(limits=(Limit(per="day", count=1),))),
            EntryBenefit(name="Guest entry", access=Access(limits=(Limit(per="week", count=2),))),
        )
    )
    first = use(m, at(2026, 3, 10, 9), benefit=0)
    d = check(m, when=at(2026, 3, 10, 11), uses=[first])
    assert d.admits and d.plan[0].benefit == 1
    # Uses of benefit 0 do not count against benefit 1's own limit.
    second = use(m, at(2026, 3, 10, 11), benefit=1)
    third = use(m, at(2026, 3, 11, 11), benefit=1)
    d = check(m, when=at(2026, 3, 11, 15), uses=[first, second, third])
    assert d.admits and d.plan[0].benefit == 0
    d = check(m, when=at(2026, 3, 11, 16), uses=[first, second, third, use(m, at(2026, 3, 11, 15), benefit=0)])
    assert d.reason is Reason.LIMIT_REACHED
    assert d.params == {"per": "day", "count": 1}


def test_none_applies_gives_the_first_in_scope_benefit_refusal() -> None:
    m = membership(
        benefits=(
            EntryBenefit(name="Hall only", access=Access(zones=("hall",))),
            EntryBenefit(name="Evenings", access=Access(windows=(window("18:00", "22:00"),))),
        )
    )
    d = check(m, when=at(2026, 3, 10, 14))
    assert d.reason is Reason.OUTSIDE_WINDOW
    assert d.params == {"opens_at": at(2026, 3, 10, 18)}


def test_none_in_scope_gives_the_first_benefit_refusal() -> None:
    m = membership(
        benefits=(
            EntryBenefit(access=Access(zones=("hall",))),
            EntryBenefit(access=Access(lanes=("south-1",))),
        )
    )
    d = check(m, when=at(2026, 3, 10, 14))
    assert d.reason is Reason.WRONG_ZONE and d.params == {"zone": "main"}


def test_discount_only_membership_has_no_entry_benefit() -> None:
    m = membership(benefits=(DiscountBenefit(percent=10), DiscountBenefit(percent=20, products=("workshop",))))
    d = check(m, when=at(2026, 3, 10))
    assert (d.verdict, d.reason, d.admitted) == (Verdict.DENY, Reason.NO_ENTRY_BENEFIT, 0)


def test_membership_access_and_benefit_access_both_apply() -> None:
    m = membership(
        access=Access(limits=(Limit(per="day", count=1),)),
        benefits=(EntryBenefit(access=Access(limits=(Limit(per="day", count=5),))),),
    )
    d = check(m, when=at(2026, 3, 10, 15), uses=[use(m, at(2026, 3, 10, 9), benefit=0)])
    assert d.reason is Reason.LIMIT_REACHED and d.params == {"per": "day", "count": 1}


def test_a_member_with_friends_gets_one_in_and_the_rest_need_tickets() -> None:
    d = check(membership(), when=at(2026, 3, 10), party=3)
    assert (d.verdict, d.reason, d.admitted) == (Verdict.ADMIT, Reason.PARTIAL, 1)
    assert d.params == {"admitted": 1, "asked": 3, "need_tickets": 2}
    assert d.plan[0].persons == 1


def test_membership_at_another_zone_with_benefit_zone() -> None:
    m = membership(benefits=(EntryBenefit(access=Access(zones=("hall",))),))
    hall = Lane(id="hall-1", zone="hall")
    assert check(m, when=at(2026, 3, 10), lane=hall).admits
    assert check(m, when=at(2026, 3, 10), lane=LANE).reason is Reason.WRONG_ZONE


def test_membership_product_validity_from_a_custom_schedule() -> None:
    sched = schedule(Product(id="fortnight", version=1, name="Two weeks", validity=Period(days=14)))
    m = membership(product="fortnight", valid_from=dt.date(2026, 3, 1))
    assert check(m, when=at(2026, 3, 14, 23, 59), sched=sched).admits
    assert check(m, when=at(2026, 3, 15, 0, 0), sched=sched).reason is Reason.EXPIRED


def test_a_kiosk_read_is_for_the_lanes_and_plans_no_visit() -> None:
    # A plain membership opens lanes: a kiosk says so and plans no visit, whatever its limits.
    once_a_day = membership(benefits=(EntryBenefit(access=Access(limits=(Limit(per="day", count=1),))),))
    d = check(once_a_day, when=at(2026, 3, 10, 10), lane=KIOSK)
    assert (d.verdict, d.reason, d.params, d.admitted, d.plan) == (Verdict.DENY, Reason.FOR_LANES, {}, 0, ())
    assert (d.entitlement_id, d.kind, d.holder) == ("m1", "membership", "Marie-Claire D.")
    # What the card is comes first: expired, not yet valid, or without any entry right.
    assert check(membership(), when=at(2025, 12, 31, 10), lane=KIOSK).reason is Reason.NOT_YET_VALID
    assert check(membership(expires_on=dt.date(2026, 3, 1)), when=at(2026, 3, 10, 10), lane=KIOSK).reason is (
        Reason.EXPIRED
    )
    discounts = membership(benefits=(DiscountBenefit(percent=10),))
    assert check(discounts, when=at(2026, 3, 10, 10), lane=KIOSK).reason is Reason.NO_ENTRY_BENEFIT
