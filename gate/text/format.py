"""Parameter formatting for rendered texts: instants, days and counts per language.

Month and weekday names are written out here rather than taken from Babel or the C library's
locales: a gate image usually ships only C.UTF-8, and a text must not change with the host.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

Language: TypeAlias = Literal["en", "fr", "de"]

_MONTHS: Mapping[Language, tuple[str, ...]] = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."),
    "de": ("Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."),
}
_WEEKDAYS: Mapping[Language, tuple[str, ...]] = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "fr": ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."),
    "de": ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."),
}
# French and German style guides leave four-digit numbers ungrouped ("1500") and group from
# five digits ("12 500", "12.500"); English groups from four ("1,500").
_GROUPING: Mapping[Language, tuple[str, int]] = {"en": (",", 1000), "fr": ("\u202f", 10000), "de": (".", 10000)}
# French sets a space before a colon (the catalog's typography makes it a no-break one).
_LABEL_SEPARATORS: Mapping[Language, str] = {"en": ": ", "fr": " : ", "de": ": "}


@dataclass(frozen=True, slots=True)
class When:
    """An instant as a text shows it.

    `text` is a bare time ("09:00") when `is_time`, i.e. on the same local day as now;
    otherwise it carries the date ("Sat 12 Dec, 09:00"), so catalogs pick the preposition
    that fits ("at 09:00" / "on Sat 12 Dec, 09:00").
    """

    text: str
    is_time: bool
    date: str  # the local calendar day alone, "12 Dec 2026"


@dataclass(frozen=True, slots=True)
class Day:
    """A calendar day as a text shows it."""

    text: str
    is_today: bool


def to_local(instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    # Rules work in the site's wall-clock time, so a naive instant is one in the site's zone,
    # never in the host's (which astimezone() would assume).
    if instant.tzinfo is None:
        return instant.replace(tzinfo=tz)
    return instant.astimezone(tz)


def format_time(local: dt.datetime) -> str:
    return f"{local.hour:02d}:{local.minute:02d}"


def format_date(day: dt.date, language: Language, *, weekday: bool = False, year: bool = True) -> str:
    """'12 Dec 2026' / '12 déc. 2026' / '12. Dez. 2026', optionally led by the weekday."""
    month = _MONTHS[language][day.month - 1]
    if language == "de":
        text = f"{day.day}. {month}"
    elif language == "fr":
        text = f"{'1er' if day.day == 1 else day.day} {month}"
    else:
        text = f"{day.day} {month}"
    if year:
        text = f"{text} {day.year}"
    if weekday:
        text = f"{_WEEKDAYS[language][day.weekday()]} {text}"
    return text


def format_instant(instant: dt.datetime, language: Language, tz: dt.tzinfo, now: dt.datetime | None) -> When:
    """A bare time on the same local day as `now`, else weekday, date and time.

    Without `now` the date is always shown (with its year): rendering never reads the
    clock, and a date too many beats a wrong "09:00" that meant tomorrow.
    """
    local = to_local(instant, tz)
    date = format_date(local.date(), language)
    time = format_time(local)
    today = to_local(now, tz).date() if now is not None else None
    if today == local.date():
        return When(text=time, is_time=True, date=date)
    show_year = today is None or today.year != local.year
    return When(
        text=f"{format_date(local.date(), language, weekday=True, year=show_year)}, {time}",
        is_time=False,
        date=date,
    )


def format_day(day: dt.date, language: Language, tz: dt.tzinfo, now: dt.datetime | None) -> Day:
    if isinstance(day, dt.datetime):
        day = to_local(day, tz).date()
    today = to_local(now, tz).date() if now is not None else None
    return Day(text=format_date(day, language), is_today=day == today)


def day_as_when(day: dt.date, language: Language, tz: dt.tzinfo, now: dt.datetime | None) -> When:
    """A calendar day given where an instant was expected: shown as a date, never as 00:00."""
    text = format_day(day, language, tz, now).text
    return When(text=text, is_time=False, date=text)


def format_count(n: int, language: Language) -> str:
    sep, threshold = _GROUPING[language]
    if abs(n) < threshold:
        return str(n)
    return f"{n:,}".replace(",", sep)


def is_plural(n: int, language: Language) -> bool:
    """Whether `n` takes the plural: French keeps 0 and 1 singular ("0 crédit restant")."""
    return abs(n) >= 2 if language == "fr" else n != 1


def label_separator(language: Language) -> str:
    """What stands between a label and its value: ": ", or " : " in French."""
    return _LABEL_SEPARATORS[language]


# Signs for the currencies venues most often price in; any other shows its ISO code.
_SIGNS: Mapping[str, str] = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}
# ISO 4217 minor units where they are not hundredths.
_DECIMALS: Mapping[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "BHD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
}


def format_money(minor: int, currency: str | None, language: Language) -> str:
    """An amount given in the currency's minor units: "€12.50" in English, "12,50 €" in French
    and German, with a no-break space so the sign never starts a line of its own. A currency
    without a sign here shows its code: "CHF 12.50", "12,50 CHF".

    Without a currency (a caller that was not given the site's), the amount alone, in
    hundredths as most currencies have them: "12.50", "12,50"; never the bare minor units,
    nor a currency the site may not use.
    """
    decimals = 2 if currency is None else _DECIMALS.get(currency, 2)
    units, fraction = divmod(abs(minor), 10**decimals)
    number = format_count(units, language)
    if decimals:
        number += f"{'.' if language == 'en' else ','}{fraction:0{decimals}d}"
    minus = "-" if minor < 0 else ""
    if currency is None:
        return f"{minus}{number}"
    sign = _SIGNS.get(currency)
    if language != "en":
        return f"{minus}{number}\u00a0{sign or currency}"
    return f"{minus}{sign}{number}" if sign else f"{minus}{currency}\u00a0{number}"
