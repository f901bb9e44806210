"""Records at the calendar's edge that slipped past the import's bounds (an old ledger, say):
the rules still answer, reading what runs past year 9999 as valid "forever", never crashing.

Such records are built with `model_copy(update=...)`, which skips validation as a ledger
read back without the import's checks would.
"""

from __future__ import annotations

import datetime as dt

from gate.reasons import Reason, Verdict
from gate.records import Period
from gate.rules.periods import add_period, days_before, last_day_of, next_midnight

from .build import PARIS, PRODUCTS, at, check, membership, schedule

NOW = at(2026, 3, 10, 10)
FOREVER = Period.model_construct(years=100_000, months=0, days=0)


def test_a_membership_expiring_on_the_calendars_last_day_admits() -> None:
    m = membership().model_copy(update={"expires_on": dt.date.max})
    d = check(m, when=NOW)
    assert (d.verdict, d.reason) == (Verdict.ADMIT, Reason.OK)


def test_a_validity_of_100_000_years_is_valid_to_the_end_of_the_calendar() -> None:
    annual = next(p for p in PRODUCTS if p.id == "annual")
    forever = annual.model_copy(update={"validity": FOREVER})
    m = membership(product="annual")
    d = check(m, when=NOW, sched=schedule(forever))
    assert (d.verdict, d.reason) == (Verdict.ADMIT, Reason.OK)
    assert last_day_of(dt.date(2026, 1, 1), FOREVER) == dt.date.max


def test_date_arithmetic_stops_at_the_calendars_ends() -> None:
    assert add_period(dt.date(9999, 6, 1), Period(years=1)) == dt.date.max
    assert add_period(dt.date(2026, 6, 1), Period.model_construct(years=0, months=0, days=10**9)) == dt.date.max
    assert next_midnight(dt.date.max, PARIS) == dt.datetime.max.replace(tzinfo=PARIS)
    assert days_before(dt.datetime(1, 1, 2, tzinfo=dt.UTC), 5, PARIS) == dt.datetime.min.replace(tzinfo=PARIS)
    late = dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-12)))
    assert days_before(late, 1, PARIS) == dt.datetime.max.replace(tzinfo=PARIS)
