"""Gate-level rules that apply whatever the kind: mode, state, scope, opening hours, windows,
blackout days, passage in progress, use limits, anti-passback and exit-before-re-entry.

Each check returns a `Refusal` or None (the limits return the persons still allowed), and
`check_access` runs them in the documented order over an entitlement's access and, for a
membership, its benefit's: the first failing check decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from gate.decision import Use
from gate.reasons import Reason
from gate.records import WEEKDAYS, Access, Calendar, Entitlement, Limit, Window
from gate.rules.context import Refusal, Scan, refusal
from gate.rules.periods import period_start

#: No limit applies: the persons allowed are bounded by the kind alone.
UNLIMITED = 1 << 30

_STATES = {
    "revoked": Reason.REVOKED,
    "cancelled": Reason.CANCELLED,
    "blocked": Reason.BLOCKED,
    "frozen": Reason.FROZEN,
}


def check_mode(scan: Scan, ent: Entitlement) -> Refusal | None:
    lane_mode = scan.lane.mode
    if ent.mode == lane_mode:
        return None
    if ent.mode == "test":
        return refusal(Reason.TEST_AT_LIVE_LANE)
    return refusal(Reason.LIVE_AT_TEST_LANE)


def check_state(ent: Entitlement) -> Refusal | None:
    if ent.state == "active":
        return None
    return refusal(_STATES[ent.state])


def check_scope(scan: Scan, access: Access) -> Refusal | None:
    lane = scan.lane
    if access.zones is not None and lane.zone not in access.zones:
        return refusal(Reason.WRONG_ZONE, zone=lane.zone)
    if access.lanes is not None and lane.id not in access.lanes:
        return refusal(Reason.WRONG_LANE, lane=lane.id)
    return None


def in_scope(scan: Scan, access: Access) -> bool:
    return check_scope(scan, access) is None


def _open_now(windows: Sequence[Window], weekday: str, now: dt.time) -> bool:
    return any(weekday in w.days and w.opens <= now < w.closes for w in windows)


def _next_opening(scan: Scan, windows: Sequence[Window], weekday: str, now: dt.time) -> dt.datetime | None:
    """The next opening later the same local day; a visitor is never told to come back tomorrow."""
    later = [w.opens for w in windows if weekday in w.days and w.opens > now]
    if not later:
        return None
    opens = min(later)
    return dt.datetime.combine(scan.today, opens, tzinfo=scan.tz)


def calendars_for(scan: Scan) -> tuple[Calendar, ...]:
    """The lane's zone calendars; the site's when the zone has none; none at all = always open."""
    calendars = scan.schedule.calendars
    if not calendars:
        return ()
    zone = scan.lane.zone
    own = tuple(c for c in calendars if c.zone == zone)
    return own or tuple(c for c in calendars if c.zone is None)


def check_calendar(scan: Scan) -> Refusal | None:
    calendars = calendars_for(scan)
    if not calendars:
        return None
    today = scan.today
    if any(today in c.closed_dates for c in calendars):
        return refusal(Reason.CLOSED_TODAY)
    hours = [w for c in calendars for w in c.hours]
    weekday = WEEKDAYS[today.weekday()]
    now = scan.now.time()
    if _open_now(hours, weekday, now):
        return None
    opens_at = _next_opening(scan, hours, weekday, now)
    return refusal(Reason.CLOSED) if opens_at is None else refusal(Reason.CLOSED, opens_at=opens_at)


def check_windows(scan: Scan, access: Access) -> Refusal | None:
    windows = access.windows
    if not windows:
        return None
    weekday = WEEKDAYS[scan.today.weekday()]
    now = scan.now.time()
    if _open_now(windows, weekday, now):
        return None
    opens_at = _next_opening(scan, windows, weekday, now)
    if opens_at is None:
        return refusal(Reason.OUTSIDE_WINDOW)
    return refusal(Reason.OUTSIDE_WINDOW, opens_at=opens_at)


def check_blackout(scan: Scan, access: Access) -> Refusal | None:
    if scan.today in access.blackout_dates:
        return refusal(Reason.BLACKOUT, day=scan.today)
    return None


def check_in_progress(uses: Sequence[Use]) -> Refusal | None:
    """A held entry means the visitor is in the lane right now: the same code again is refused."""
    if any(u.held and u.direction == "entry" for u in uses):
        return refusal(Reason.IN_PROGRESS)
    return None


def check_limits(scan: Scan, limits: Sequence[Limit], uses: Sequence[Use], benefit: int | None) -> Refusal | int:
    """Persons still allowed under every limit (UNLIMITED when none), or the first limit reached.

    A benefit's limits count only the uses that applied that benefit; an entitlement's count all.
    """
    allowed = UNLIMITED
    for limit in limits:
        start = period_start(limit.per, scan.today, scan.tz, scan.schedule.seasons)
        if start is None:
            continue
        used = sum(
            u.persons
            for u in uses
            if u.direction == "entry" and u.at >= start and (benefit is None or u.benefit == benefit)
        )
        if used >= limit.count:
            return refusal(Reason.LIMIT_REACHED, per=limit.per, count=limit.count)
        allowed = min(allowed, limit.count - used)
    return allowed


def _last_entry(uses: Sequence[Use]) -> Use | None:
    last: Use | None = None
    for u in uses:
        if u.direction == "entry" and (last is None or u.at >= last.at):
            last = u
    return last


def _exited_since(uses: Sequence[Use], since: float) -> bool:
    return any(u.direction == "exit" and u.at >= since for u in uses)


def check_anti_passback(scan: Scan, minutes: int | None, uses: Sequence[Use]) -> Refusal | None:
    if minutes is None:
        return None
    last = _last_entry(uses)
    if last is None:
        return None
    until = last.at + minutes * 60
    if scan.ts < until and not _exited_since(uses, last.at):
        return refusal(Reason.ANTI_PASSBACK, until=scan.instant(until))
    return None


def check_exit_before_reentry(required: bool, uses: Sequence[Use]) -> Refusal | None:
    if not required:
        return None
    last = _last_entry(uses)
    if last is not None and not _exited_since(uses, last.at):
        return refusal(Reason.EXIT_REQUIRED)
    return None


def check_access(
    scan: Scan,
    accesses: Sequence[tuple[Access, int | None]],
    uses: Sequence[Use],
    *,
    opening_hours: bool,
) -> Refusal | int:
    """Every gate-level check in order, over each (access, benefit index) given.

    Returns the persons the limits still allow, or the first refusal. `uses` are the
    entitlement's own (held and committed); a benefit's limits filter them by its index.
    """
    accesses = [pair for pair in accesses if not pair[0].unrestricted]
    for access, _ in accesses:
        refused = check_scope(scan, access)
        if refused is not None:
            return refused
    if opening_hours:
        refused = check_calendar(scan)
        if refused is not None:
            return refused
    for access, _ in accesses:
        refused = check_windows(scan, access)
        if refused is not None:
            return refused
    for access, _ in accesses:
        refused = check_blackout(scan, access)
        if refused is not None:
            return refused
    refused = check_in_progress(uses)
    if refused is not None:
        return refused
    allowed = UNLIMITED
    for access, benefit in accesses:
        if access.limits:
            left = check_limits(scan, access.limits, uses, benefit)
            if isinstance(left, Refusal):
                return left
            allowed = min(allowed, left)
    for access, _ in accesses:
        refused = check_anti_passback(scan, access.anti_passback_minutes, uses)
        if refused is not None:
            return refused
    for access, _ in accesses:
        refused = check_exit_before_reentry(access.exit_before_reentry, uses)
        if refused is not None:
            return refused
    return allowed
