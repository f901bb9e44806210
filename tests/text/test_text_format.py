"""Instants, days and counts as texts show them: zones, midnight, years, languages."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gate.decision import Decision
from gate.reasons import Reason
from gate.text import LANGUAGES, Language, render
from gate.text.format import format_count, format_date, format_day, format_instant
from gate.text.params import verdict_of

UTC = dt.UTC
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def valid_from(
    instant: dt.datetime | dt.date, tz: dt.tzinfo, now: dt.datetime | None, language: Language = "en"
) -> str:
    decision = Decision(verdict_of(Reason.NOT_YET_VALID), Reason.NOT_YET_VALID, {"valid_from": instant})
    return render(decision, audience="visitor", language=language, tz=tz, now=now)


@pytest.mark.parametrize(
    ("language", "day", "expected"),
    [
        ("en", dt.date(2026, 12, 12), "12 Dec 2026"),
        ("fr", dt.date(2026, 12, 12), "12 déc. 2026"),
        ("de", dt.date(2026, 12, 12), "12. Dez. 2026"),
        ("en", dt.date(2027, 1, 1), "1 Jan 2027"),
        ("fr", dt.date(2027, 1, 1), "1er janv. 2027"),
        ("de", dt.date(2027, 3, 1), "1. März 2027"),
        ("fr", dt.date(2027, 8, 15), "15 août 2027"),
    ],
)
def test_dates(language: Language, day: dt.date, expected: str) -> None:
    assert format_date(day, language) == expected


def test_every_month_and_weekday_has_a_name() -> None:
    for language in LANGUAGES:
        months = {format_date(dt.date(2026, m, 2), language, year=False) for m in range(1, 13)}
        weekdays = {format_date(dt.date(2026, 6, d), language, weekday=True).split()[0] for d in range(1, 8)}
        assert len(months) == 12 and len(weekdays) == 7, language


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Sat 12 Dec, 09:00"), ("fr", "sam. 12 déc., 09:00"), ("de", "Sa. 12. Dez., 09:00")],
)
def test_another_day_shows_weekday_date_and_time(language: Language, expected: str) -> None:
    instant = dt.datetime(2026, 12, 12, 9, 0, tzinfo=PARIS)
    when = format_instant(instant, language, PARIS, dt.datetime(2026, 12, 11, 20, 0, tzinfo=PARIS))
    assert (when.text, when.is_time) == (expected, False)


def test_same_day_shows_the_time_alone() -> None:
    instant = dt.datetime(2026, 12, 12, 9, 0, tzinfo=PARIS)
    when = format_instant(instant, "en", PARIS, dt.datetime(2026, 12, 12, 0, 0, tzinfo=PARIS))
    assert (when.text, when.is_time, when.date) == ("09:00", True, "12 Dec 2026")


def test_an_instant_in_utc_is_shown_in_the_sites_zone() -> None:
    instant = dt.datetime(2026, 12, 12, 8, 0, tzinfo=UTC)  # 09:00 in Paris (UTC+1 in winter)
    now = dt.datetime(2026, 12, 12, 7, 0, tzinfo=UTC)
    assert valid_from(instant, PARIS, now) == "Valid from 09:00"
    assert valid_from(instant, NEW_YORK, now) == "Valid from 03:00"
    assert valid_from(instant, PARIS, now, "de") == "Gültig ab 09:00"


def test_summer_time_is_applied() -> None:
    instant = dt.datetime(2026, 7, 1, 7, 0, tzinfo=UTC)  # 09:00 in Paris (UTC+2 in summer)
    assert valid_from(instant, PARIS, dt.datetime(2026, 7, 1, 5, 0, tzinfo=UTC)) == "Valid from 09:00"


def test_midnight_is_counted_in_the_sites_zone_not_in_utc() -> None:
    # 23:30 UTC on the 12th is 00:30 on the 13th in Paris.
    instant = dt.datetime(2026, 12, 12, 23, 30, tzinfo=UTC)
    before_midnight_in_paris = dt.datetime(2026, 12, 12, 22, 0, tzinfo=UTC)  # 23:00 on the 12th
    after_midnight_in_paris = dt.datetime(2026, 12, 12, 23, 10, tzinfo=UTC)  # 00:10 on the 13th
    assert valid_from(instant, PARIS, before_midnight_in_paris) == "Valid from Sun 13 Dec, 00:30"
    assert valid_from(instant, PARIS, after_midnight_in_paris) == "Valid from 00:30"
    # In UTC itself, the same two moments are on the instant's day.
    assert valid_from(instant, UTC, before_midnight_in_paris) == "Valid from 23:30"


def test_a_moment_just_after_midnight_is_another_day() -> None:
    instant = dt.datetime(2026, 12, 13, 0, 5, tzinfo=PARIS)
    assert valid_from(instant, PARIS, dt.datetime(2026, 12, 12, 23, 59, tzinfo=PARIS)) == "Valid from Sun 13 Dec, 00:05"
    assert valid_from(instant, PARIS, dt.datetime(2026, 12, 13, 0, 0, tzinfo=PARIS)) == "Valid from 00:05"


def test_another_year_shows_the_year() -> None:
    instant = dt.datetime(2027, 1, 2, 9, 0, tzinfo=PARIS)
    now = dt.datetime(2026, 12, 31, 12, 0, tzinfo=PARIS)
    assert valid_from(instant, PARIS, now) == "Valid from Sat 2 Jan 2027, 09:00"
    assert valid_from(instant, PARIS, now, "fr") == "Valable à partir du sam. 2 janv. 2027, 09:00"


def test_without_now_the_date_is_always_shown() -> None:
    instant = dt.datetime(2026, 12, 12, 9, 0, tzinfo=PARIS)
    assert valid_from(instant, PARIS, None) == "Valid from Sat 12 Dec 2026, 09:00"


def test_naive_instants_are_in_the_sites_zone() -> None:
    naive = dt.datetime(2026, 12, 12, 9, 0)
    assert valid_from(naive, PARIS, dt.datetime(2026, 12, 12, 8, 0)) == "Valid from 09:00"
    assert valid_from(naive, NEW_YORK, dt.datetime(2026, 12, 12, 8, 0, tzinfo=NEW_YORK)) == "Valid from 09:00"


def test_a_day_where_an_instant_is_expected_shows_no_midnight() -> None:
    now = dt.datetime(2026, 12, 12, 8, 0, tzinfo=PARIS)
    assert valid_from(dt.date(2026, 12, 14), PARIS, now) == "Valid from 14 Dec 2026"
    assert valid_from(dt.date(2026, 12, 14), PARIS, now, "de") == "Gültig ab 14. Dez. 2026"


def test_days_know_whether_they_are_today_in_the_sites_zone() -> None:
    now = dt.datetime(2026, 12, 12, 23, 30, tzinfo=UTC)  # already the 13th in Paris
    assert format_day(dt.date(2026, 12, 13), "en", PARIS, now).is_today
    assert not format_day(dt.date(2026, 12, 13), "en", UTC, now).is_today
    assert not format_day(dt.date(2026, 12, 13), "en", PARIS, None).is_today


@pytest.mark.parametrize(
    ("n", "en", "fr", "de"),
    [
        (7, "7", "7", "7"),
        (1500, "1,500", "1500", "1500"),
        (12500, "12,500", "12\u202f500", "12.500"),
        (-3, "-3", "-3", "-3"),
    ],
)
def test_counts(n: int, en: str, fr: str, de: str) -> None:
    assert (format_count(n, "en"), format_count(n, "fr"), format_count(n, "de")) == (en, fr, de)
