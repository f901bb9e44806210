"""The pieces every language builds its texts from: joining parts, optional parts, counts.

Only logic lives here; the words stay in en.py, fr.py and de.py. Where languages differ in
punctuation or plural rule, the difference is a per-language setting in `gate.text.format`,
not a copy of the helper.
"""

from __future__ import annotations

from collections.abc import Callable

from gate.text.catalog import Args, Entry
from gate.text.format import is_plural, label_separator


def then(head: str, tail: str | None, sep: str = " — ") -> str:
    """`head`, then `tail` after `sep` when there is one."""
    return head if tail is None else f"{head}{sep}{tail}"


def labelled(a: Args, head: str, value: str | None) -> str:
    """'Head: value' with the language's colon ("Head : value" in French), or the head alone."""
    return then(head, value, label_separator(a.language))


def dotted(*parts: str | None) -> str:
    """The parts there are, between middle dots: a staff line's facts."""
    return " · ".join(p for p in parts if p)


def counted(a: Args, n: int, one: str, other: str) -> str:
    """'1 credit', '2 credits': the number in the language's digits and the word its plural rule picks."""
    return f"{a.num(n)} {other if is_plural(n, a.language) else one}"


def performance(a: Args) -> str | None:
    """The show and its start, as far as the parameters give them."""
    show, starts = a.text("show"), a.when("starts_at")
    return ", ".join(p for p in (show, starts.text if starts else None) if p) or None


def partial_counts(a: Args) -> tuple[int, int | None, int | None]:
    """A partial admission's (admitted, asked, still needing a ticket), each None when unknown;
    the rest is worked out from `asked` when only that is given, and None when nobody is left."""
    admitted = a.count("admitted")
    admitted = a.admitted if admitted is None else admitted
    asked = a.count("asked")
    rest = a.count("need_tickets")
    if rest is None and asked is not None:
        rest = asked - admitted
    return admitted, asked, rest if rest is None or rest > 0 else None


def credit_balance(a: Args) -> int | None:
    """Credits left: the refusal's own parameter, else the decision's balance."""
    balance = a.count("balance")
    return a.balance if balance is None else balance


def both(text: Callable[[Args, bool], str]) -> Entry:
    """A visitor and a staff text from one function of (args, staff)."""
    return Entry(lambda a: text(a, False), lambda a: text(a, True))
