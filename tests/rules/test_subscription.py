"""Season subscriptions: seats per show at any one performance of it."""

from __future__ import annotations

import datetime as dt

from gate.decision import Lane, Use
from gate.reasons import Reason, Verdict
from gate.records import Access, Limit

from .build import KIOSK, at, calendar, check, performance, schedule, subscription, use, window

DOORS_OPEN = at(2026, 3, 14, 19, 30)  # Hamlet at 20:00 admits 19:00-20:30


def seat(when: dt.datetime, persons: int = 1, perf: str = "hamlet-1", event: str = "hamlet") -> Use:
    return use("sub1", when, persons=persons, performance=perf, event=event)


def test_admits_the_seats_of_the_show_on_now() -> None:
    d = check(subscription(), when=DOORS_OPEN)
    assert (d.verdict, d.reason, d.admitted, d.balance) == (Verdict.ADMIT, Reason.OK, 2, 0)
    assert d.params == {"show": "Hamlet"}
    (u,) = d.plan
    assert (u.performance, u.event, u.persons) == ("hamlet-1", "hamlet", 2)


def test_one_of_two_seats_leaves_one() -> None:
    d = check(subscription(), when=DOORS_OPEN, party=1)
    assert d.reason is Reason.OK and d.admitted == 1 and d.balance == 1
    d = check(subscription(), when=DOORS_OPEN, party=1, uses=[seat(at(2026, 3, 14, 19, 10))])
    assert d.reason is Reason.OK and d.admitted == 1 and d.balance == 0


def test_third_entry_on_two_seats_is_refused() -> None:
    uses = [
        use("sub1", at(2026, 3, 14, 19, 10), performance="hamlet-1", event="hamlet"),
        use("sub1", at(2026, 3, 14, 19, 20), performance="hamlet-1", event="hamlet"),
    ]
    d = check(subscription(), when=DOORS_OPEN, uses=uses, party=1)
    assert (d.verdict, d.reason) == (Verdict.DENY, Reason.SHOW_USED)
    assert d.params == {"used": 2, "quantity": 2, "show": "Hamlet"}
    assert (d.entitlement_id, d.kind) == ("sub1", "subscription")


def test_party_of_three_on_two_seats_admits_two_and_one_needs_a_ticket() -> None:
    d = check(subscription(), when=DOORS_OPEN, party=3)
    assert (d.verdict, d.reason, d.admitted, d.balance) == (Verdict.ADMIT, Reason.PARTIAL, 2, 0)
    assert d.params == {"admitted": 2, "asked": 3, "need_tickets": 1, "show": "Hamlet"}


def test_seats_used_at_another_performance_of_the_show_are_refused() -> None:
    uses = [use("sub1", DOORS_OPEN, performance="hamlet-1", event="hamlet")]
    d = check(subscription(), when=at(2026, 3, 21, 19, 30), uses=uses, party=1)
    assert d.reason is Reason.OTHER_PERFORMANCE and d.params == {"show": "Hamlet"}


def test_other_shows_keep_their_own_seats() -> None:
    uses = [use("sub1", DOORS_OPEN, persons=2, performance="hamlet-1", event="hamlet")]
    d = check(subscription(), when=at(2026, 3, 14, 14, 30), uses=uses)
    assert d.admits and d.params == {"show": "The Tempest"} and d.admitted == 2


def test_exits_give_no_seat_back() -> None:
    uses = [
        use("sub1", at(2026, 3, 14, 19, 5), persons=2, performance="hamlet-1", event="hamlet"),
        use("sub1", at(2026, 3, 14, 19, 15), "exit", persons=2),
    ]
    d = check(subscription(), when=DOORS_OPEN, uses=uses)
    assert d.reason is Reason.SHOW_USED and d.params["used"] == 2


def test_too_early_names_the_next_show_opening_today() -> None:
    d = check(subscription(), when=at(2026, 3, 14, 13, 0))
    assert d.reason is Reason.TOO_EARLY
    assert d.params == {"opens_at": at(2026, 3, 14, 14, 0), "show": "The Tempest"}


def test_too_late_names_the_last_show_closed_today() -> None:
    d = check(subscription(), when=at(2026, 3, 14, 22, 0))
    assert d.reason is Reason.TOO_LATE
    assert d.params == {"closed_at": at(2026, 3, 14, 20, 30), "show": "Hamlet"}


def test_between_shows_the_next_opening_wins() -> None:
    d = check(subscription(), when=at(2026, 3, 14, 17, 0))
    assert d.reason is Reason.TOO_EARLY and d.params["show"] == "Hamlet"


def test_nothing_on_today() -> None:
    d = check(subscription(), when=at(2026, 3, 15, 19, 30))
    assert d.reason is Reason.NO_PERFORMANCE and d.params == {}


def test_performance_in_another_zone_is_not_on_at_this_lane() -> None:
    sub = subscription(events=("lear",))
    assert check(sub, when=DOORS_OPEN).reason is Reason.NO_PERFORMANCE
    hall = Lane(id="hall-1", zone="hall")
    d = check(sub, when=DOORS_OPEN, lane=hall)
    assert d.admits and d.params == {"show": "King Lear"}


def test_shows_on_at_once_take_the_one_with_seats_left() -> None:
    late = performance("tempest-2", "tempest", at(2026, 3, 14, 20, 15))
    sched = schedule(late)
    uses = [use("sub1", at(2026, 3, 14, 19, 5), persons=2, performance="hamlet-1", event="hamlet")]
    d = check(subscription(), when=DOORS_OPEN, sched=sched, uses=uses)
    assert d.admits and d.params == {"show": "The Tempest"} and d.plan[0].performance == "tempest-2"
    # Without seats anywhere, the nearest show explains the refusal.
    uses.append(use("sub1", at(2026, 3, 14, 14, 5), persons=2, performance="tempest-1", event="tempest"))
    d = check(subscription(), when=DOORS_OPEN, sched=sched, uses=uses)
    assert d.reason is Reason.SHOW_USED and d.params == {"used": 2, "quantity": 2, "show": "Hamlet"}


def test_asked_performance_must_be_one_of_its_shows() -> None:
    sub = subscription(events=("hamlet",))
    d = check(sub, when=at(2026, 3, 14, 14, 30), performance="tempest-1")
    assert d.reason is Reason.WRONG_PERFORMANCE and d.params == {"show": "The Tempest"}
    d = check(sub, when=DOORS_OPEN, performance="hamlet-1")
    assert d.admits and d.plan[0].performance == "hamlet-1"
    d = check(sub, when=at(2026, 3, 14, 18, 0), performance="hamlet-1")
    assert d.reason is Reason.TOO_EARLY and d.params == {"opens_at": at(2026, 3, 14, 19), "show": "Hamlet"}
    assert check(sub, when=DOORS_OPEN, performance="nope").reason is Reason.NO_PERFORMANCE


def test_opening_hours_do_not_apply_to_a_show() -> None:
    sched = schedule(calendar(window("09:00", "18:00")))
    assert check(subscription(), when=DOORS_OPEN, sched=sched).admits


def test_subscription_limits_apply() -> None:
    sub = subscription(access=Access(limits=(Limit(per="day", count=1),)))
    uses = [use("sub1", at(2026, 3, 14, 14, 5), performance="tempest-1", event="tempest")]
    d = check(sub, when=DOORS_OPEN, uses=uses)
    assert d.reason is Reason.LIMIT_REACHED


def test_a_kiosk_read_is_for_the_lanes_with_the_seats_left_and_uses_none() -> None:
    # The show on now, and its seats left; no seat is planned.
    d = check(subscription(), when=DOORS_OPEN, lane=KIOSK, uses=[seat(at(2026, 3, 14, 19, 10))])
    assert (d.verdict, d.reason, d.admitted, d.plan, d.balance) == (Verdict.DENY, Reason.FOR_LANES, 0, (), 1)
    assert d.params == {"show": "Hamlet", "starts_at": at(2026, 3, 14, 20)}
    assert (d.entitlement_id, d.kind) == ("sub1", "subscription")
    # A performance asked for (a kiosk's choice), whatever its window; its show's seats used up leave none.
    used = [seat(at(2026, 3, 14, 19, 10), persons=2)]
    d = check(subscription(), when=at(2026, 3, 10, 10), lane=KIOSK, performance="hamlet-2", uses=used)
    assert (d.reason, d.balance) == (Reason.FOR_LANES, 0)
    assert d.params == {"show": "Hamlet", "starts_at": at(2026, 3, 21, 20)}
    # No show on now: for the lanes all the same, with nothing to say of seats.
    d = check(subscription(), when=at(2026, 3, 10, 10), lane=KIOSK)
    assert (d.reason, d.params, d.balance) == (Reason.FOR_LANES, {}, None)
    assert check(subscription(state="revoked"), when=DOORS_OPEN, lane=KIOSK).reason is Reason.REVOKED
