"""Tickets and admissions: performance, slot and day windows, pax, single and multiple entry."""

from __future__ import annotations

import datetime as dt

import pytest

from gate.decision import Lane
from gate.reasons import Reason, Verdict
from gate.records import Slot

from .build import at, calendar, check, schedule, ticket, use, window

OPENS = at(2026, 3, 14, 19)  # Hamlet 20:00, doors 60 minutes before, closes 30 after
CLOSES = at(2026, 3, 14, 20, 30)
DOORS_OPEN = at(2026, 3, 14, 19, 30)
EPS = dt.timedelta(microseconds=1)


def test_admits_its_pax_with_the_show() -> None:
    d = check(ticket(pax=2), when=DOORS_OPEN)
    assert (d.verdict, d.reason, d.admitted, d.params) == (Verdict.ADMIT, Reason.OK, 2, {"show": "Hamlet"})
    assert (d.entitlement_id, d.kind, d.balance) == ("t1", "ticket", None)
    (u,) = d.plan
    assert (u.persons, u.performance, u.event, u.direction, u.held) == (2, "hamlet-1", "hamlet", "entry", True)


def test_performance_window_edges() -> None:
    d = check(ticket(), when=OPENS - EPS)
    assert d.reason is Reason.TOO_EARLY and d.params == {"opens_at": OPENS, "show": "Hamlet"}
    assert check(ticket(), when=OPENS).admits
    assert check(ticket(), when=CLOSES - EPS).admits
    d = check(ticket(), when=CLOSES)
    assert d.reason is Reason.TOO_LATE and d.params == {"closed_at": CLOSES, "show": "Hamlet"}


def test_ticket_overrides_the_performance_window() -> None:
    t = ticket(opens_minutes_before=120, closes_minutes_after=0)
    assert check(t, when=at(2026, 3, 14, 18)).admits
    d = check(t, when=at(2026, 3, 14, 20))
    assert d.reason is Reason.TOO_LATE and d.params["closed_at"] == at(2026, 3, 14, 20)


def test_performance_in_another_zone() -> None:
    d = check(ticket(performance="lear-1"), when=DOORS_OPEN)
    assert d.reason is Reason.WRONG_ZONE and d.params == {"zone": "main"}
    assert check(ticket(performance="lear-1"), when=DOORS_OPEN, lane=Lane(id="hall-1", zone="hall")).admits


def test_unknown_performance() -> None:
    assert check(ticket(performance="gone"), when=DOORS_OPEN).reason is Reason.NO_PERFORMANCE


def test_single_entry_is_used_once() -> None:
    t = ticket()
    entered = use(t, at(2026, 3, 14, 19, 10), performance="hamlet-1", event="hamlet")
    d = check(t, when=DOORS_OPEN, uses=[entered])
    assert (d.verdict, d.reason) == (Verdict.DENY, Reason.ALREADY_USED)
    assert d.params == {"used_at": at(2026, 3, 14, 19, 10)}


def test_pax_counts_persons_across_scans() -> None:
    t = ticket(pax=4)
    d = check(t, when=DOORS_OPEN, party=2)
    assert d.reason is Reason.OK and d.admitted == 2
    entered = use(t, at(2026, 3, 14, 19, 10), persons=2)
    d = check(t, when=DOORS_OPEN, uses=[entered])
    assert d.reason is Reason.OK and d.admitted == 2
    d = check(t, when=DOORS_OPEN, uses=[entered], party=3)
    assert d.reason is Reason.PARTIAL and d.admitted == 2
    assert d.params == {"admitted": 2, "asked": 3, "need_tickets": 1, "show": "Hamlet"}
    last = use(t, at(2026, 3, 14, 19, 20), persons=2)
    d = check(t, when=DOORS_OPEN, uses=[entered, last])
    assert d.reason is Reason.ALREADY_USED and d.params == {"used_at": at(2026, 3, 14, 19, 20)}


def test_multiple_entry_admits_its_pax_every_time() -> None:
    t = ticket(pax=2, entries="multiple")
    uses = [use(t, at(2026, 3, 14, 19, m), persons=2) for m in (5, 10, 15)]
    d = check(t, when=DOORS_OPEN, uses=uses)
    assert d.reason is Reason.OK and d.admitted == 2


def test_reentry_after_an_exit() -> None:
    t = ticket(reentry=True, pax=2)
    entered = use(t, at(2026, 3, 14, 19, 5), persons=2)
    assert check(t, when=DOORS_OPEN, uses=[entered]).reason is Reason.ALREADY_USED
    one_out = use(t, at(2026, 3, 14, 19, 15), "exit", persons=1)
    d = check(t, when=DOORS_OPEN, uses=[entered, one_out])
    assert d.reason is Reason.OK and d.admitted == 1
    # Without re-entry, an exit gives nothing back.
    plain = ticket(pax=2)
    assert check(plain, when=DOORS_OPEN, uses=[entered, one_out]).reason is Reason.ALREADY_USED


def test_slot_window_edges() -> None:
    slot = Slot(starts_at=at(2026, 3, 10, 10), ends_at=at(2026, 3, 10, 11))
    t = ticket(slot=slot)
    d = check(t, when=at(2026, 3, 10, 10) - EPS)
    assert d.reason is Reason.TOO_EARLY and d.params == {"opens_at": at(2026, 3, 10, 10)}
    assert check(t, when=at(2026, 3, 10, 10)).admits
    assert check(t, when=at(2026, 3, 10, 11) - EPS).params == {}
    d = check(t, when=at(2026, 3, 10, 11))
    assert d.reason is Reason.TOO_LATE and d.params == {"closed_at": at(2026, 3, 10, 11)}
    early = ticket(slot=slot, opens_minutes_before=15, closes_minutes_after=10)
    assert check(early, when=at(2026, 3, 10, 9, 45)).admits
    assert check(early, when=at(2026, 3, 10, 11, 9)).admits
    assert check(early, when=at(2026, 3, 10, 11, 10)).reason is Reason.TOO_LATE


def test_day_ticket_is_its_local_day() -> None:
    t = ticket(day=dt.date(2026, 3, 10))
    d = check(t, when=at(2026, 3, 9, 23, 59, 59))
    assert d.reason is Reason.TOO_EARLY and d.params == {"opens_at": at(2026, 3, 10, 0)}
    assert check(t, when=at(2026, 3, 10, 0, 0)).admits
    assert check(t, when=at(2026, 3, 10, 23, 59, 59, 999999)).admits
    d = check(t, when=at(2026, 3, 11, 0, 0))
    assert d.reason is Reason.TOO_LATE and d.params == {"closed_at": at(2026, 3, 10, 23, 59, 59, 999999)}


@pytest.mark.parametrize(
    ("kind", "when", "admits"),
    [
        ("day", at(2026, 3, 10, 8), False),
        ("day", at(2026, 3, 10, 10), True),
        ("slot", at(2026, 3, 10, 8, 30), False),
        ("performance", at(2026, 3, 14, 19, 30), True),  # the show's window, not the opening hours
    ],
)
def test_opening_hours_apply_to_day_and_slot_tickets_only(kind: str, when: dt.datetime, admits: bool) -> None:
    sched = schedule(calendar(window("09:00", "18:00")))
    if kind == "day":
        t = ticket(day=dt.date(2026, 3, 10))
    elif kind == "slot":
        t = ticket(slot=Slot(starts_at=at(2026, 3, 10, 8), ends_at=at(2026, 3, 10, 9)))
    else:
        t = ticket()
    d = check(t, when=when, sched=sched)
    assert d.admits is admits
    if not admits:
        assert d.reason is Reason.CLOSED and d.params == {"opens_at": at(2026, 3, 10, 9)}


def test_surplus_exits_give_no_entry_back() -> None:
    # entry, exit, exit, entry, entry: the second exit found nobody inside, so the last entry
    # finds the one person already in.
    t = ticket(reentry=True)
    scans = [(19, 0, "entry"), (19, 5, "exit"), (19, 6, "exit"), (19, 10, "entry")]
    uses = [use(t, at(2026, 3, 14, h, m), direction) for h, m, direction in scans]
    d = check(t, when=DOORS_OPEN, uses=uses)
    assert d.reason is Reason.ALREADY_USED and d.params == {"used_at": at(2026, 3, 14, 19, 10)}
    # A party of two: three exits take out two, and two may come back, not three.
    party = ticket(reentry=True, pax=2)
    uses = [use(party, at(2026, 3, 14, 19, 0), persons=2)]
    uses += [use(party, at(2026, 3, 14, 19, m), "exit") for m in (5, 6, 7)]
    d = check(party, when=DOORS_OPEN, uses=uses, party=3)
    assert d.reason is Reason.PARTIAL and d.admitted == 2


def test_exits_count_in_the_order_they_happened() -> None:
    # Uses may come from the ledger in any order: an exit before the first entry lets nobody out.
    t = ticket(reentry=True)
    uses = [use(t, at(2026, 3, 14, 19, 10)), use(t, at(2026, 3, 14, 19, 1), "exit")]
    assert check(t, when=DOORS_OPEN, uses=uses).reason is Reason.ALREADY_USED
    uses.append(use(t, at(2026, 3, 14, 19, 20), "exit"))
    assert check(t, when=DOORS_OPEN, uses=uses).admits


def test_a_kiosk_read_of_an_admission_is_for_the_lanes() -> None:
    kiosk = Lane(id="kiosk-1", zone="main", kiosk=True)
    for when in (DOORS_OPEN, OPENS - EPS, CLOSES):
        d = check(ticket(pax=2), when=when, lane=kiosk)
        assert (d.verdict, d.reason, d.admitted, d.plan) == (Verdict.DENY, Reason.FOR_LANES, 0, ())
        assert d.params == {"show": "Hamlet", "starts_at": at(2026, 3, 14, 20)}
        assert (d.entitlement_id, d.kind) == ("t1", "ticket")
    slot = Slot(starts_at=at(2026, 3, 10, 10), ends_at=at(2026, 3, 10, 11))
    d = check(ticket(slot=slot), when=at(2026, 3, 10, 10, 5), lane=kiosk)
    assert d.reason is Reason.FOR_LANES and d.params == {"starts_at": at(2026, 3, 10, 10)}
    d = check(ticket(day=dt.date(2026, 3, 10)), when=at(2026, 3, 10, 10), lane=kiosk)
    assert d.reason is Reason.FOR_LANES and d.params == {}
    # Its mode and state are still said first: a test ticket is not for this kiosk's lanes either.
    assert check(ticket(mode="test"), when=DOORS_OPEN, lane=kiosk).reason is Reason.TEST_AT_LIVE_LANE
    assert check(ticket(state="revoked"), when=DOORS_OPEN, lane=kiosk).reason is Reason.REVOKED


def test_an_entry_and_an_exit_at_the_same_instant_count_the_entry_first() -> None:
    t = ticket(reentry=True, pax=2)
    same = at(2026, 3, 14, 19, 5)
    for order in ("entry", "exit"), ("exit", "entry"):
        uses = [use(t, same, direction) for direction in order]
        uses.append(use(t, same))  # and a second entry at that instant
        d = check(t, when=DOORS_OPEN, uses=uses)
        assert (d.reason, d.admitted) == (Reason.OK, 1), order
