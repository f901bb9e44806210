"""Tickets and admissions: a performance, a time slot or a whole day, for `pax` persons.

A single-entry ticket admits each of its persons once (again after an exit when re-entry is
allowed); a multiple-entry ticket admits its whole party every time its window is open. An
admission opens a lane: a kiosk that reads one says what it is for and consumes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from gate.decision import Decision, Param, Use
from gate.reasons import Reason
from gate.records import Performance, Ticket
from gate.rules.access import check_access, check_mode, check_state
from gate.rules.context import Refusal, Scan, refusal, uses_of
from gate.rules.outcome import asked, finish
from gate.rules.performances import admission_window, check_window, show_name
from gate.rules.periods import day_end, day_start
from gate.rules.voucher import voucher_used


def check_performance(
    scan: Scan, perf: Performance, show: str, opens_minutes_before: int | None, closes_minutes_after: int | None
) -> Refusal | None:
    """The admission window around the start, then the performance's zone."""
    opens, closes = admission_window(perf, opens_minutes_before, closes_minutes_after)
    refused = check_window(scan, opens, closes, show)
    if refused is not None:
        return refused
    if perf.zone is not None and perf.zone != scan.lane.zone:
        return refusal(Reason.WRONG_ZONE, zone=scan.lane.zone)
    return None


def inside(uses: Sequence[Use]) -> int:
    """Persons inside after these uses: an exit takes out at most who is in.

    Counted in the order they happened (an entry first at the same instant), so an exit read
    twice, or before any entry, gives nobody a second way in.
    """
    count = 0
    last = float("-inf")
    exited = False  # whether the last use was an exit
    for u in uses:
        at, entry = u.at, u.direction == "entry"
        if at < last or (at == last and entry and exited):
            # Out of order (the ledger gives them oldest first, a caller need not): sort once.
            return inside(sorted(uses, key=lambda u: (u.at, u.direction)))
        last, exited = at, not entry
        count = count + u.persons if entry else max(count - u.persons, 0)
    return count


def persons_left(scan: Scan, pax: int, multiple: bool, reentry: bool, uses: Sequence[Use]) -> Refusal | int:
    """Persons this ticket may still let in, or ALREADY_USED with the last entry."""
    if multiple:
        return pax
    entered = 0
    last_entry = float("-inf")
    for u in uses:
        if u.direction == "entry":
            entered += u.persons
            last_entry = max(last_entry, u.at)
    left = pax - (inside(uses) if reentry else entered)
    if left <= 0:
        return refusal(Reason.ALREADY_USED, used_at=scan.instant(last_entry))
    return left


def _check_day(scan: Scan, ticket: Ticket) -> Refusal | None:
    day = ticket.day
    assert day is not None
    if scan.today < day:
        return refusal(Reason.TOO_EARLY, opens_at=day_start(day, scan.tz))
    if scan.today > day:
        return refusal(Reason.TOO_LATE, closed_at=day_end(day, scan.tz))
    return None


def for_lanes(scan: Scan, perf: Performance | None, starts_at: dt.datetime | None = None) -> Refusal:
    """FOR_LANES with what the admission is for: a kiosk shows it and consumes nothing."""
    params: dict[str, Param] = {}
    if perf is not None:
        params["show"] = show_name(scan, perf.event)
        starts_at = perf.starts_at
    if starts_at is not None:
        params["starts_at"] = scan.in_site(starts_at)
    return Refusal(Reason.FOR_LANES, params)


def _at_a_kiosk(scan: Scan, ticket: Ticket, redemptions: tuple[Use, ...]) -> Refusal:
    if ticket.from_voucher is not None:
        # The visitor shows the voucher again: say when it became this admission.
        return voucher_used(scan, redemptions, ticket.performance)
    perf = scan.schedule.performances.get(ticket.performance) if ticket.performance is not None else None
    return for_lanes(scan, perf, ticket.slot.starts_at if ticket.slot is not None else None)


def decide_ticket(scan: Scan, ticket: Ticket, uses: tuple[Use, ...]) -> Decision | Refusal:
    refused = check_mode(scan, ticket) or check_state(ticket)
    if refused is not None:
        return refused
    redemptions: tuple[Use, ...] = ()
    if ticket.from_voucher is not None:
        # The voucher's redemption may come with the uses: it tells when, but is no entry.
        redemptions = uses_of(ticket.from_voucher, uses)
        uses = uses_of(ticket.id, uses)
    if scan.lane.kiosk:
        return _at_a_kiosk(scan, ticket, redemptions)
    perf: Performance | None = None
    show: str | None = None
    if ticket.performance is not None:
        perf = scan.schedule.performances.get(ticket.performance)
        if perf is None:
            return refusal(Reason.NO_PERFORMANCE)
        show = show_name(scan, perf.event)
        refused = check_performance(scan, perf, show, ticket.opens_minutes_before, ticket.closes_minutes_after)
    elif ticket.slot is not None:
        slot = ticket.slot
        opens = slot.starts_at.timestamp() - (ticket.opens_minutes_before or 0) * 60
        closes = slot.ends_at.timestamp() + (ticket.closes_minutes_after or 0) * 60
        refused = check_window(scan, opens, closes, None)
    else:
        refused = _check_day(scan, ticket)
    if refused is not None:
        return refused
    # A performance's own admission window replaces the opening hours.
    allowed = check_access(scan, ((ticket.access, None),), uses, opening_hours=perf is None)
    if isinstance(allowed, Refusal):
        return allowed
    left = persons_left(scan, ticket.pax, ticket.entries == "multiple", ticket.reentry, uses)
    if isinstance(left, Refusal):
        return left
    performance = perf.id if perf is not None else None
    event = perf.event if perf is not None else None

    def plan(admitted: int) -> tuple[Use, ...]:
        return (scan.use(ticket.id, admitted, performance=performance, event=event),)

    return finish(scan, ticket, want=asked(scan, left), allowed=min(left, allowed), plan=plan, show=show)
