"""Local-time boundaries: where days, weeks, months and seasons start in the site's zone.

Every boundary is an aware datetime in the zone given, built from the wall-clock date, so a
day is the visitor's day even on the 23- and 25-hour days of a daylight-saving change.
Instants are compared as epoch seconds: two aware datetimes that share a tzinfo compare by
wall-clock time and ignore the fold, which is wrong in the repeated autumn hour.

Every function is total: arithmetic that would leave the calendar (years 1 to 9999) stops at
its first or last day instead of raising. Inputs are bounded where they enter (gate.bounds,
the import), far inside the calendar; a record that slipped through (an old ledger, a
validity of 100 000 years) then reads as valid "forever" rather than crashing a decision.
The guards are `except` clauses, which cost nothing until they fire: no check is added to
the decision's hot path.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from functools import lru_cache
from zoneinfo import ZoneInfo

from gate.records import Period, Season

ONE_DAY = dt.timedelta(days=1)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The zone by IANA name; cached because ZoneInfo's own cache still costs a lock and a lookup."""
    return ZoneInfo(name)


def day_start(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The first instant of a local day (local midnight)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz)


@lru_cache(maxsize=4096)
def midnight(day: dt.date, tz: dt.tzinfo) -> float:
    """Epoch seconds of a local day's first instant: what most checks compare with.

    Cached, being pure: each scan compares with a few such boundaries, and converting a
    wall-clock time through a zone's transitions costs more than the rest of such a check.
    """
    return day_start(day, tz).timestamp()


def day_end(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The last instant of a local day, 23:59:59.999999: the inclusive end of a last valid day."""
    return dt.datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=tz)


@lru_cache(maxsize=4096)
def midnight_after(day: dt.date, tz: dt.tzinfo) -> float:
    """Epoch seconds of the local midnight that ends a day; +inf after the calendar's last day."""
    try:
        return midnight(day + ONE_DAY, tz)
    except OverflowError:
        return math.inf


def next_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    """The local midnight that ends a day: the instant something valid through that day expired at."""
    try:
        return day_start(day + ONE_DAY, tz)
    except OverflowError:  # the calendar's last day ends at its last instant
        return dt.datetime.max.replace(tzinfo=tz)


def week_start(day: dt.date) -> dt.date:
    """The Monday of the day's week."""
    return day - dt.timedelta(days=day.weekday())


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months later, clamped to the month's last day (Jan 31 + 1 month = Feb 28 or 29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    try:
        return dt.date(year, month, min(day.day, last))
    except ValueError:  # past the calendar's ends
        return dt.date.max if year > dt.MAXYEAR else dt.date.min


def add_period(day: dt.date, period: Period) -> dt.date:
    """A day plus a validity period: years and months first (clamped), then days."""
    return _add(day, period.years * 12 + period.months, period.days)


def _add(day: dt.date, months: int, days: int) -> dt.date:
    try:
        return add_months(day, months) + dt.timedelta(days=days)
    except OverflowError:  # past the calendar's ends
        return dt.date.max if days > 0 else dt.date.min


def last_day_of(start: dt.date, period: Period) -> dt.date:
    """The inclusive last day of a period starting on `start`: one year from Jan 1 ends on Dec 31."""
    return _last_day(start, period.years * 12 + period.months, period.days)


@lru_cache(maxsize=4096)
def _last_day(start: dt.date, months: int, days: int) -> dt.date:
    """Cached, being pure: a membership's expiry is computed from it on every scan. Keyed by
    numbers, not by the period: hashing a pydantic model costs more than the computation."""
    end = _add(start, months, days)
    return end if end == dt.date.max else end - ONE_DAY  # saturated: valid to the calendar's end


def season_of(day: dt.date, seasons: Iterable[Season]) -> Season | None:
    """The first season whose days contain the given local day."""
    for season in seasons:
        if season.starts_on <= day <= season.ends_on:
            return season
    return None


def period_start(per: str, today: dt.date, tz: dt.tzinfo, seasons: Mapping[str, Season]) -> float | None:
    """Epoch seconds where the current limit period began; -inf for lifetime, None when no season is on."""
    if per == "day":
        start = today
    elif per == "week":
        start = week_start(today)
    elif per == "month":
        start = month_start(today)
    elif per == "season":
        season = season_of(today, seasons.values())
        if season is None:
            return None
        start = season.starts_on
    else:
        return float("-inf")
    return midnight(start, tz)


def days_before(instant: dt.datetime, days: int, tz: dt.tzinfo) -> dt.datetime:
    """The same local wall-clock time `days` calendar days earlier (a DST change keeps 20:00 at 20:00)."""
    try:
        return instant.astimezone(tz) - dt.timedelta(days=days)
    except OverflowError:  # past the calendar's ends: the side the instant is on, unless days took it over
        late = instant.year > 5000 and days < 1_000_000
        return (dt.datetime.max if late else dt.datetime.min).replace(tzinfo=tz)
