"""What a language catalog is, and what its texts may read from a decision.

A catalog maps every reason to a visitor text and a staff text. A text is either a constant
string or a function of `Args`; functions are used wherever a parameter, an optional
parameter or a plural is involved, so every case (a parameter missing included) is spelled
out in the language itself instead of being patched together from fragments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import NamedTuple, TypeAlias

from gate.decision import Decision
from gate.reasons import Reason
from gate.text.format import Day, Language, When, day_as_when, format_count, format_day, format_instant, format_money


class Args:
    """A decision's parameters, formatted for one language, zone and moment.

    Every accessor returns None for a missing parameter or one of an unexpected type, so a
    text always has a sensible fallback and never shows "None" or a Python repr. The holder is
    the only personal datum offered: it is already reduced to first name and initial.
    `to_pay` is what a credit purchase leaves to pay, in the site's currency, when anything
    (the amount alone when no currency is given: `format_money`).
    """

    __slots__ = ("_now", "_params", "_tz", "admitted", "balance", "holder", "kind", "language", "read", "to_pay")

    def __init__(
        self, decision: Decision, language: Language, tz: dt.tzinfo, now: dt.datetime | None,
        currency: str | None = None,
    ) -> None:  # fmt: skip
        self._params = decision.params
        self._tz = tz
        self._now = now
        self.language = language
        self.holder = decision.holder or None
        self.admitted = decision.admitted
        self.balance = decision.balance
        self.kind = decision.kind
        to_pay = decision.to_pay
        self.to_pay = format_money(to_pay, currency, language) if to_pay else None
        # The names a text asked for: tests check these against the documented parameters.
        self.read: set[str] = set()

    def _get(self, name: str) -> object:
        self.read.add(name)
        return self._params.get(name)

    def text(self, name: str) -> str | None:
        value = self._get(name)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return format_count(value, self.language)
        if isinstance(value, str):
            return value.strip() or None
        return None

    def count(self, name: str) -> int | None:
        value = self._get(name)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return None

    def when(self, name: str) -> When | None:
        value = self._get(name)
        if isinstance(value, dt.datetime):
            return format_instant(value, self.language, self._tz, self._now)
        if isinstance(value, dt.date):
            return day_as_when(value, self.language, self._tz, self._now)
        return None

    def day(self, name: str) -> Day | None:
        value = self._get(name)
        if isinstance(value, dt.date):
            return format_day(value, self.language, self._tz, self._now)
        return None

    def num(self, n: int) -> str:
        return format_count(n, self.language)


Text: TypeAlias = str | Callable[[Args], str]


class Entry(NamedTuple):
    visitor: Text
    staff: Text


Catalog: TypeAlias = Mapping[Reason, Entry]


def apply(text: Text, args: Args) -> str:
    return text if isinstance(text, str) else text(args)


def finish(entries: Mapping[Reason, Entry], polish: Callable[[str], str]) -> dict[Reason, Entry]:
    """The same catalog with `polish` applied to every text it produces (typography)."""

    def wrap(text: Text) -> Text:
        if isinstance(text, str):
            return polish(text)
        return lambda args: polish(text(args))

    return {reason: Entry(wrap(entry.visitor), wrap(entry.staff)) for reason, entry in entries.items()}
