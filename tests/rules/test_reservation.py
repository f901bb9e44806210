"""Reservations: unpaid until a confirm deadline, released after it unless extended."""

from __future__ import annotations

import datetime as dt

import pytest

from gate.reasons import Reason, Verdict
from gate.rules import reservation_deadline

from .build import KIOSK, NEW_YORK, PARIS, SCHEDULE, at, check, reservation, use

DOORS_OPEN = at(2026, 3, 14, 19, 30)


def test_unpaid_is_refused_with_its_deadline_n_days_after_booking() -> None:
    r = reservation(confirm={"days_after_booking": 3})
    d = check(r, when=at(2026, 3, 4, 23, 59, 59, 999999))
    assert (d.verdict, d.reason) == (Verdict.DENY, Reason.UNPAID)
    assert d.params == {"deadline": at(2026, 3, 4, 23, 59, 59, 999999)}
    assert (d.entitlement_id, d.kind) == ("r1", "reservation")


def test_released_after_the_deadline() -> None:
    r = reservation(confirm={"days_after_booking": 3})
    d = check(r, when=at(2026, 3, 5, 0, 0))
    assert d.reason is Reason.RESERVATION_RELEASED
    assert d.params == {"deadline": at(2026, 3, 4, 23, 59, 59, 999999)}


def test_deadline_n_days_before_the_event() -> None:
    r = reservation(confirm={"days_before_event": 2})
    assert reservation_deadline(r, SCHEDULE, PARIS) == at(2026, 3, 12, 23, 59, 59, 999999)
    assert check(r, when=at(2026, 3, 12, 23, 0)).reason is Reason.UNPAID
    assert check(r, when=at(2026, 3, 13, 0, 0)).reason is Reason.RESERVATION_RELEASED


def test_unpaid_is_refused_even_at_the_door() -> None:
    r = reservation(confirm={"days_before_event": 0})
    d = check(r, when=DOORS_OPEN)
    assert d.reason is Reason.UNPAID and d.params == {"deadline": at(2026, 3, 14, 23, 59, 59, 999999)}


def test_booking_day_is_the_local_day() -> None:
    # 23:30 UTC on 1 March is already 2 March in Paris.
    r = reservation(booked_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC), confirm={"days_after_booking": 1})
    assert reservation_deadline(r, SCHEDULE, PARIS) == at(2026, 3, 3, 23, 59, 59, 999999)
    assert reservation_deadline(r, SCHEDULE, NEW_YORK) == at(2026, 3, 2, 23, 59, 59, 999999, tz=NEW_YORK)


@pytest.mark.parametrize("extended", [at(2026, 3, 10, 18), at(2026, 3, 2, 12)])
def test_extension_replaces_the_deadline_only_when_later(extended: dt.datetime) -> None:
    r = reservation(confirm={"days_after_booking": 3}, extended_until=extended)
    deadline = max(extended, at(2026, 3, 4, 23, 59, 59, 999999))
    assert reservation_deadline(r, SCHEDULE, PARIS) == deadline
    d = check(r, when=at(2026, 3, 8))
    expected = Reason.UNPAID if extended > at(2026, 3, 8) else Reason.RESERVATION_RELEASED
    assert d.reason is expected and d.params == {"deadline": deadline}


def test_paid_is_admitted_with_its_party_once() -> None:
    r = reservation(paid=True, pax=3)
    d = check(r, when=DOORS_OPEN)
    assert (d.verdict, d.reason, d.admitted) == (Verdict.ADMIT, Reason.OK, 3)
    assert d.params == {"show": "Hamlet"}
    assert (d.plan[0].performance, d.plan[0].event, d.plan[0].persons) == ("hamlet-1", "hamlet", 3)
    entered = use(r, at(2026, 3, 14, 19, 10), persons=3, performance="hamlet-1", event="hamlet")
    d = check(r, when=DOORS_OPEN, uses=[entered])
    assert d.reason is Reason.ALREADY_USED and d.params == {"used_at": at(2026, 3, 14, 19, 10)}


def test_paid_follows_the_admission_window_even_after_the_deadline() -> None:
    r = reservation(paid=True)
    d = check(r, when=at(2026, 3, 14, 18, 0))
    assert d.reason is Reason.TOO_EARLY and d.params == {"opens_at": at(2026, 3, 14, 19), "show": "Hamlet"}
    d = check(r, when=at(2026, 3, 14, 20, 30))
    assert d.reason is Reason.TOO_LATE and d.params == {"closed_at": at(2026, 3, 14, 20, 30), "show": "Hamlet"}


def test_paid_party_partly_entered_admits_the_rest() -> None:
    r = reservation(paid=True, pax=4)
    entered = use(r, at(2026, 3, 14, 19, 10), persons=3, performance="hamlet-1", event="hamlet")
    d = check(r, when=DOORS_OPEN, uses=[entered], party=2)
    assert d.reason is Reason.PARTIAL and d.admitted == 1
    assert d.params == {"admitted": 1, "asked": 2, "need_tickets": 1, "show": "Hamlet"}


def test_unknown_performance() -> None:
    d = check(reservation(performance="gone", paid=True), when=DOORS_OPEN)
    assert d.reason is Reason.NO_PERFORMANCE


def test_a_paid_reservation_read_at_a_kiosk_is_for_the_lanes() -> None:
    d = check(reservation(paid=True, pax=2), when=DOORS_OPEN, lane=KIOSK)
    assert (d.verdict, d.reason, d.admitted, d.plan) == (Verdict.DENY, Reason.FOR_LANES, 0, ())
    assert d.params == {"show": "Hamlet", "starts_at": at(2026, 3, 14, 20)}
    # Unpaid, the kiosk says what the lane would: it waits for payment.
    assert check(reservation(), when=at(2026, 3, 2, 10), lane=KIOSK).reason is Reason.UNPAID
