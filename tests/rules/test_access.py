"""Gate-level rules for any kind: scope, limits, anti-passback, hours, windows, states, capacity."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gate.decision import Lane, Site
from gate.reasons import Reason, Verdict
from gate.records import Access, Entitlement, Limit, Season

from .build import (
    PARIS,
    at,
    calendar,
    check,
    credit,
    membership,
    reservation,
    schedule,
    subscription,
    ticket,
    use,
    voucher,
    window,
)

DOORS_OPEN = at(2026, 3, 14, 19, 30)  # Saturday evening, Hamlet's doors are open


def any_kind(kind: str, **kw: Any) -> tuple[Entitlement, dt.datetime]:
    """An entitlement of each kind that admits at `when` at lane north-1, with extra fields."""
    if kind == "membership":
        return membership(**kw), DOORS_OPEN
    if kind == "credit_membership":
        return credit(**kw), DOORS_OPEN
    if kind == "subscription":
        return subscription(**kw), DOORS_OPEN
    if kind == "reservation":
        return reservation(paid=True, **kw), DOORS_OPEN
    return ticket(**kw), DOORS_OPEN


KINDS = ["membership", "credit_membership", "subscription", "reservation", "ticket"]
ALL_KINDS = [*KINDS, "voucher"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_admits_in_the_plain_case(kind: str) -> None:
    ent, when = any_kind(kind)
    d = check(ent, when=when, party=1)
    assert (d.verdict, d.reason, d.admitted, d.kind) == (Verdict.ADMIT, Reason.OK, 1, kind)


def test_unknown_code() -> None:
    d = check(when=DOORS_OPEN)
    assert (d.verdict, d.reason, d.admitted, d.entitlement_id) == (Verdict.DENY, Reason.UNKNOWN_CODE, 0, None)


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("revoked", Reason.REVOKED),
        ("cancelled", Reason.CANCELLED),
        ("blocked", Reason.BLOCKED),
        ("frozen", Reason.FROZEN),
    ],
)
def test_states_refuse(kind: str, state: str, reason: Reason) -> None:
    ent = voucher(state=state) if kind == "voucher" else any_kind(kind, state=state)[0]
    d = check(ent, when=DOORS_OPEN)
    assert (d.verdict, d.reason, d.entitlement_id, d.kind) == (Verdict.DENY, reason, ent.id, kind)
    assert d.holder == "Marie-Claire D."


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_test_entitlement_at_live_lane(kind: str) -> None:
    ent = voucher(mode="test") if kind == "voucher" else any_kind(kind, mode="test")[0]
    assert check(ent, when=DOORS_OPEN).reason is Reason.TEST_AT_LIVE_LANE
    test_lane = Lane(id="north-1", zone="main", mode="test", product="entry-adult")
    assert check(ent, when=DOORS_OPEN, lane=test_lane).reason is not Reason.TEST_AT_LIVE_LANE


@pytest.mark.parametrize("kind", KINDS)
def test_zones_and_lanes(kind: str) -> None:
    ent, when = any_kind(kind, access=Access(zones=("hall",)))
    d = check(ent, when=when)
    assert d.reason is Reason.WRONG_ZONE and d.params == {"zone": "main"}
    ent, when = any_kind(kind, access=Access(zones=("main",), lanes=("north-2", "south-1")))
    d = check(ent, when=when)
    assert d.reason is Reason.WRONG_LANE and d.params == {"lane": "north-1"}
    ent, when = any_kind(kind, access=Access(zones=("main",), lanes=("north-1",)))
    assert check(ent, when=when).admits


# --- limits on local boundaries ----------------------------------------------------------------


def _limited(per: str, count: int = 1) -> Entitlement:
    limit = Limit.model_validate({"per": per, "count": count})
    return membership(valid_from=dt.date(2020, 1, 1), access=Access(limits=(limit,)))


@pytest.mark.parametrize(
    ("per", "used_at", "now", "reached"),
    [
        ("day", at(2026, 3, 10, 0, 0), at(2026, 3, 10, 23, 59, 59), True),
        ("day", at(2026, 3, 10, 23, 59, 59), at(2026, 3, 11, 0, 0), False),
        # 23:30 UTC on the 10th is 00:30 on the 11th in Paris: the same local day as now.
        ("day", dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC), at(2026, 3, 11, 9), True),
        ("week", at(2026, 3, 9, 0, 0), at(2026, 3, 15, 23, 59), True),  # Monday .. Sunday
        ("week", at(2026, 3, 15, 23, 59), at(2026, 3, 16, 0, 0), False),  # Sunday -> Monday
        ("month", at(2026, 3, 1, 0, 0), at(2026, 3, 31, 23, 59), True),
        ("month", at(2026, 3, 31, 23, 59), at(2026, 4, 1, 0, 0), False),
        ("season", at(2025, 9, 1, 0, 0), at(2026, 6, 30, 23, 59), True),
        ("season", at(2025, 8, 31, 23, 59), at(2025, 9, 1, 0, 0), False),
        ("season", at(2026, 3, 1), at(2026, 7, 1), False),  # no season on: the limit does not apply
        ("lifetime", at(2020, 1, 1), at(2026, 3, 10), True),
        # Across the spring change the day still starts at local midnight.
        ("day", at(2026, 3, 29, 0, 30), at(2026, 3, 29, 23, 30), True),
        ("day", at(2026, 3, 28, 23, 30), at(2026, 3, 29, 0, 30), False),
    ],
)
def test_limit_periods_on_local_boundaries(per: str, used_at: dt.datetime, now: dt.datetime, reached: bool) -> None:
    m = _limited(per)
    d = check(m, when=now, uses=[use(m, used_at)])
    if reached:
        assert (d.verdict, d.reason, d.params) == (Verdict.DENY, Reason.LIMIT_REACHED, {"per": per, "count": 1})
    else:
        assert d.admits


def test_limits_count_persons_held_and_committed_entries_only() -> None:
    m = _limited("day", 3)
    uses = [
        use(m, at(2026, 3, 10, 9), persons=1),
        use(m, at(2026, 3, 10, 9, 5), "exit"),
        use(m, at(2026, 3, 10, 10), persons=1),
    ]
    assert check(m, when=at(2026, 3, 10, 11), uses=uses).admits
    uses.append(use(m, at(2026, 3, 10, 10, 30), held=True))
    assert check(m, when=at(2026, 3, 10, 11), uses=uses).reason is Reason.IN_PROGRESS
    uses[-1] = uses[-1]._replace(held=False)
    assert check(m, when=at(2026, 3, 10, 11), uses=uses).reason is Reason.LIMIT_REACHED


def test_limit_caps_a_party() -> None:
    t = ticket(pax=5, entries="multiple", access=Access(limits=(Limit(per="day", count=3),)))
    d = check(t, when=DOORS_OPEN, uses=[use(t, at(2026, 3, 14, 19, 5), persons=1)])
    assert (d.reason, d.admitted) == (Reason.PARTIAL, 2)
    assert d.params == {"admitted": 2, "asked": 5, "need_tickets": 3, "show": "Hamlet"}


def test_season_limit_uses_the_season_of_today() -> None:
    autumn = Season(id="s26", version=1, name="2026-27", starts_on=dt.date(2026, 9, 1), ends_on=dt.date(2027, 6, 30))
    sched = schedule(autumn)
    m = _limited("season")
    d = check(m, when=at(2026, 9, 1, 10), uses=[use(m, at(2026, 6, 30, 10))], sched=sched)
    assert d.admits
    d = check(m, when=at(2026, 9, 2, 10), uses=[use(m, at(2026, 9, 1, 10))], sched=sched)
    assert d.reason is Reason.LIMIT_REACHED and d.params == {"per": "season", "count": 1}


def test_several_limits_all_apply() -> None:
    m = membership(access=Access(limits=(Limit(per="day", count=2), Limit(per="week", count=3))))
    uses = [use(m, at(2026, 3, 9, 10)), use(m, at(2026, 3, 10, 10)), use(m, at(2026, 3, 11, 10))]
    d = check(m, when=at(2026, 3, 12, 10), uses=uses)
    assert d.reason is Reason.LIMIT_REACHED and d.params == {"per": "week", "count": 3}


# --- anti-passback and exit before re-entry -----------------------------------------------------


def test_anti_passback() -> None:
    t = ticket(entries="multiple", access=Access(anti_passback_minutes=10))
    entered = use(t, at(2026, 3, 14, 19, 10))
    d = check(t, when=at(2026, 3, 14, 19, 19, 59), uses=[entered])
    assert (d.reason, d.params) == (Reason.ANTI_PASSBACK, {"until": at(2026, 3, 14, 19, 20)})
    assert check(t, when=at(2026, 3, 14, 19, 20), uses=[entered]).admits
    out = use(t, at(2026, 3, 14, 19, 12), "exit")
    assert check(t, when=at(2026, 3, 14, 19, 13), uses=[entered, out]).admits


def test_anti_passback_looks_at_the_last_entry_only() -> None:
    m = membership(access=Access(anti_passback_minutes=30))
    uses = [use(m, at(2026, 3, 10, 9)), use(m, at(2026, 3, 10, 9, 10), "exit"), use(m, at(2026, 3, 10, 10))]
    d = check(m, when=at(2026, 3, 10, 10, 20), uses=uses)
    assert d.reason is Reason.ANTI_PASSBACK and d.params == {"until": at(2026, 3, 10, 10, 30)}


def test_exit_before_reentry() -> None:
    m = membership(access=Access(exit_before_reentry=True))
    assert check(m, when=at(2026, 3, 10, 12)).admits
    entered = use(m, at(2026, 3, 10, 9))
    d = check(m, when=at(2026, 3, 10, 17), uses=[entered])
    assert (d.verdict, d.reason, d.params) == (Verdict.DENY, Reason.EXIT_REQUIRED, {})
    out = use(m, at(2026, 3, 10, 11), "exit")
    assert check(m, when=at(2026, 3, 10, 17), uses=[entered, out]).admits
    old_exit = use(m, at(2026, 3, 10, 8), "exit")
    assert check(m, when=at(2026, 3, 10, 17), uses=[old_exit, entered]).reason is Reason.EXIT_REQUIRED


# --- opening hours, windows, blackout ------------------------------------------------------------


def test_opening_hours_and_closed_days() -> None:
    sched = schedule(calendar(window("09:00", "12:00"), window("14:00", "18:00"), closed=[dt.date(2026, 3, 11)]))
    m = membership()
    d = check(m, when=at(2026, 3, 10, 8, 59, 59), sched=sched)
    assert (d.reason, d.params) == (Reason.CLOSED, {"opens_at": at(2026, 3, 10, 9)})
    assert check(m, when=at(2026, 3, 10, 9), sched=sched).admits
    d = check(m, when=at(2026, 3, 10, 12), sched=sched)
    assert (d.reason, d.params) == (Reason.CLOSED, {"opens_at": at(2026, 3, 10, 14)})
    d = check(m, when=at(2026, 3, 10, 18), sched=sched)
    assert (d.reason, d.params) == (Reason.CLOSED, {})
    d = check(m, when=at(2026, 3, 11, 10), sched=sched)
    assert (d.reason, d.params) == (Reason.CLOSED_TODAY, {})


def test_opening_hours_by_weekday() -> None:
    sched = schedule(calendar(window("09:00", "18:00", days=("mon", "tue", "wed", "thu", "fri"))))
    d = check(membership(), when=at(2026, 3, 14, 10), sched=sched)  # a Saturday
    assert (d.reason, d.params) == (Reason.CLOSED, {})


def test_zone_calendar_wins_over_the_site_calendar() -> None:
    site_hours = calendar(window("09:00", "18:00"))
    main_hours = calendar(window("10:00", "22:00"), zone="main")
    hall_hours = calendar(window("06:00", "07:00"), zone="hall")
    m = membership()
    assert check(m, when=at(2026, 3, 10, 20), sched=schedule(site_hours, main_hours)).admits
    d = check(m, when=at(2026, 3, 10, 9, 30), sched=schedule(site_hours, main_hours))
    assert d.reason is Reason.CLOSED and d.params == {"opens_at": at(2026, 3, 10, 10)}
    # Another zone's calendar does not govern this lane: the site's does.
    assert check(m, when=at(2026, 3, 10, 10), sched=schedule(site_hours, hall_hours)).admits
    assert check(m, when=at(2026, 3, 10, 6, 30), sched=schedule(hall_hours)).admits


def test_weekly_windows() -> None:
    m = membership(access=Access(windows=(window("09:00", "12:00", days=("tue", "sat")), window("14:00", "16:00"))))
    assert check(m, when=at(2026, 3, 10, 9)).admits  # Tuesday
    d = check(m, when=at(2026, 3, 11, 9))  # Wednesday
    assert (d.reason, d.params) == (Reason.OUTSIDE_WINDOW, {"opens_at": at(2026, 3, 11, 14)})
    d = check(m, when=at(2026, 3, 11, 16))
    assert (d.reason, d.params) == (Reason.OUTSIDE_WINDOW, {})
    assert check(m, when=at(2026, 3, 11, 15, 59, 59)).admits


def test_blackout_days() -> None:
    m = membership(access=Access(blackout_dates=(dt.date(2026, 3, 10),)))
    d = check(m, when=at(2026, 3, 10, 23, 59))
    assert (d.reason, d.params) == (Reason.BLACKOUT, {"day": dt.date(2026, 3, 10)})
    assert check(m, when=at(2026, 3, 11, 0, 0)).admits


@pytest.mark.parametrize("kind", KINDS)
def test_held_entry_is_in_progress(kind: str) -> None:
    ent, when = any_kind(kind, pax=2) if kind in ("ticket", "reservation") else any_kind(kind)
    held = use(ent, when - dt.timedelta(seconds=2), held=True, performance="hamlet-1", event="hamlet", credits=1)
    d = check(ent, when=when, uses=[held])
    assert (d.verdict, d.reason) == (Verdict.DENY, Reason.IN_PROGRESS)


# --- capacity and attention ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_site_full(kind: str) -> None:
    ent, when = any_kind(kind)
    d = check(ent, when=when, site=Site(tz=PARIS, capacity=500, inside=500))
    assert (d.verdict, d.reason, d.params) == (Verdict.DENY, Reason.SITE_FULL, {"capacity": 500})


def test_capacity_caps_a_party() -> None:
    d = check(ticket(pax=4), when=DOORS_OPEN, site=Site(tz=PARIS, capacity=500, inside=498))
    assert (d.reason, d.admitted) == (Reason.PARTIAL, 2)
    assert d.params == {"admitted": 2, "asked": 4, "need_tickets": 2, "show": "Hamlet"}
    assert d.plan[0].persons == 2
    assert check(ticket(pax=2), when=DOORS_OPEN, site=Site(tz=PARIS, capacity=500, inside=498)).reason is Reason.OK


@pytest.mark.parametrize(
    ("flags", "verdict", "reason"),
    [
        (("id_check",), Verdict.ATTENTION, Reason.ID_CHECK),
        (("child",), Verdict.ATTENTION, Reason.CHILD),
        (("child", "id_check"), Verdict.ATTENTION, Reason.ID_CHECK),
        (("accessible",), Verdict.ADMIT, Reason.OK),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_attention_flags(kind: str, flags: tuple[str, ...], verdict: Verdict, reason: Reason) -> None:
    ent, when = any_kind(kind, flags=flags)
    d = check(ent, when=when, party=1)
    assert (d.verdict, d.reason, d.admitted) == (verdict, reason, 1)
    assert len(d.plan) == 1 and d.plan[0].held


def test_attention_does_not_hide_a_refusal() -> None:
    t = ticket(flags=("id_check",))
    assert check(t, when=at(2026, 3, 14, 22)).reason is Reason.TOO_LATE


# --- check order ----------------------------------------------------------------------------------


def test_check_order() -> None:
    hours = schedule(calendar(window("09:00", "10:00")))
    day = at(2026, 3, 10, 12)
    base: dict[str, Any] = {}

    def first(**access: Any) -> Reason:
        fields = dict(base)
        if access:
            fields["access"] = Access(**access)
        m = membership(**fields)
        uses = [use(m, at(2026, 3, 10, 11, 55), held=True)]
        return check(m, when=day, sched=hours, uses=uses, site=Site(tz=PARIS, capacity=1, inside=1)).reason

    everything: dict[str, Any] = {
        "zones": ("hall",),
        "windows": (window("06:00", "07:00"),),
        "blackout_dates": (dt.date(2026, 3, 10),),
        "limits": (Limit(per="day", count=1),),
    }
    base = {"state": "frozen", "mode": "test", "expires_on": dt.date(2026, 1, 31)}
    assert first(**everything) is Reason.TEST_AT_LIVE_LANE
    base.pop("mode")
    assert first(**everything) is Reason.FROZEN
    base.pop("state")
    assert first(**everything) is Reason.EXPIRED
    base.pop("expires_on")
    assert first(**everything) is Reason.WRONG_ZONE
    everything.pop("zones")
    assert first(**everything) is Reason.CLOSED
    hours = schedule()
    assert first(**everything) is Reason.OUTSIDE_WINDOW
    everything.pop("windows")
    assert first(**everything) is Reason.BLACKOUT
    everything.pop("blackout_dates")
    assert first(**everything) is Reason.IN_PROGRESS


def test_limit_before_anti_passback_before_exit_before_used_before_full() -> None:
    t = ticket(
        access=Access(limits=(Limit(per="day", count=1),), anti_passback_minutes=60, exit_before_reentry=True)
    )
    uses = [use(t, at(2026, 3, 14, 19, 20))]
    full = Site(tz=PARIS, capacity=1, inside=1)
    assert check(t, when=DOORS_OPEN, uses=uses, site=full).reason is Reason.LIMIT_REACHED
    t = t.model_copy(update={"access": Access(anti_passback_minutes=60, exit_before_reentry=True)})
    assert check(t, when=DOORS_OPEN, uses=uses, site=full).reason is Reason.ANTI_PASSBACK
    t = t.model_copy(update={"access": Access(exit_before_reentry=True)})
    assert check(t, when=DOORS_OPEN, uses=uses, site=full).reason is Reason.EXIT_REQUIRED
    t = t.model_copy(update={"access": Access()})
    assert check(t, when=DOORS_OPEN, uses=uses, site=full).reason is Reason.ALREADY_USED
    assert check(t, when=DOORS_OPEN, site=full).reason is Reason.SITE_FULL


@pytest.mark.parametrize("kind", KINDS)
def test_a_daily_limit_applies_to_every_kind(kind: str) -> None:
    extra: dict[str, Any] = {"pax": 2} if kind in ("ticket", "reservation") else {}
    ent, when = any_kind(kind, access=Access(limits=(Limit(per="day", count=1),)), **extra)
    earlier = use(ent, at(2026, 3, 14, 9), performance="tempest-1", event="tempest", credits=1)
    d = check(ent, when=when, uses=[earlier])
    assert (d.reason, d.params) == (Reason.LIMIT_REACHED, {"per": "day", "count": 1})
    yesterday = earlier._replace(at=at(2026, 3, 13, 23, 59, 59).timestamp())
    assert check(ent, when=when, uses=[yesterday]).admits


@pytest.mark.parametrize(
    "restriction",
    [
        {"zones": ["hall"]},
        {"lanes": ["south-1"]},
        {"limits": [{"per": "day", "count": 1}]},
        {"windows": [{"days": ["mon"], "opens": "09:00", "closes": "10:00"}]},
        {"blackout_dates": ["2026-03-14"]},
        {"anti_passback_minutes": 5},
        {"exit_before_reentry": True},
    ],
)
def test_any_one_restriction_makes_an_access_checked(restriction: dict[str, Any]) -> None:
    """The rules skip an access that restricts nothing: each field alone must count as one."""
    assert Access().unrestricted
    assert not Access.model_validate(restriction).unrestricted
