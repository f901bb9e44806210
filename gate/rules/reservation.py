"""Reservations: a booking held without payment until a confirm deadline.

Unpaid, it is refused with its deadline while the deadline runs, and as released after it.
Paid, it is a single-entry ticket for its performance and its party, for the lanes only.
"""

from __future__ import annotations

import datetime as dt

from gate.decision import Decision, Schedule, Use
from gate.reasons import Reason
from gate.records import Reservation
from gate.rules.access import check_access, check_mode, check_state
from gate.rules.context import Refusal, Scan, refusal
from gate.rules.outcome import asked, finish
from gate.rules.performances import show_name
from gate.rules.periods import day_end
from gate.rules.ticket import check_performance, for_lanes, persons_left


def reservation_deadline(r: Reservation, schedule: Schedule, tz: dt.tzinfo) -> dt.datetime:
    """The last instant an unpaid reservation is held, in the site's zone `tz`.

    The end of a local day: N days after the booking day, or N days before the performance
    day; a later extension granted by staff replaces it. Raises KeyError when the deadline
    counts back from a performance the schedule does not know.
    """
    confirm = r.confirm
    if confirm.days_after_booking is not None:
        day = r.booked_at.astimezone(tz).date() + dt.timedelta(days=confirm.days_after_booking)
    else:
        start = schedule.performances[r.performance].starts_at
        day = start.astimezone(tz).date() - dt.timedelta(days=confirm.days_before_event or 0)
    deadline = day_end(day, tz)
    extended = r.extended_until
    if extended is not None and extended.timestamp() > deadline.timestamp():
        return extended.astimezone(tz)
    return deadline


def decide_reservation(scan: Scan, r: Reservation, uses: tuple[Use, ...]) -> Decision | Refusal:
    refused = check_mode(scan, r) or check_state(r)
    if refused is not None:
        return refused
    perf = scan.schedule.performances.get(r.performance)
    if perf is None:
        return refusal(Reason.NO_PERFORMANCE)
    if not r.paid:
        deadline = reservation_deadline(r, scan.schedule, scan.tz)
        if scan.ts <= deadline.timestamp():
            return refusal(Reason.UNPAID, deadline=deadline)
        return refusal(Reason.RESERVATION_RELEASED, deadline=deadline)
    if scan.lane.kiosk:
        return for_lanes(scan, perf)
    show = show_name(scan, perf.event)
    refused = check_performance(scan, perf, show, None, None)
    if refused is not None:
        return refused
    allowed = check_access(scan, ((r.access, None),), uses, opening_hours=False)
    if isinstance(allowed, Refusal):
        return allowed
    left = persons_left(scan, r.pax, False, False, uses)
    if isinstance(left, Refusal):
        return left

    def plan(admitted: int) -> tuple[Use, ...]:
        return (scan.use(r.id, admitted, performance=perf.id, event=perf.event),)

    return finish(scan, r, want=asked(scan, left), allowed=min(left, allowed), plan=plan, show=show)
