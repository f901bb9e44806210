"""Money in texts: an amount in minor units, in the site's currency, written per language."""

from __future__ import annotations

import pytest

from gate.decision import Decision
from gate.reasons import Reason, Verdict
from gate.text import LANGUAGES, Language, render
from gate.text.format import format_money
from gate.text.params import EXAMPLE_NOW, EXAMPLE_TZ

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("minor", "currency", "language", "expected"),
    [
        (1250, "EUR", "en", "€12.50"),
        (1250, "EUR", "fr", f"12,50{NBSP}€"),
        (1250, "EUR", "de", f"12,50{NBSP}€"),
        (5, "GBP", "en", "£0.05"),
        (0, "EUR", "en", "€0.00"),
        (123456, "EUR", "en", "€1,234.56"),
        (1234567, "EUR", "fr", f"12\u202f345,67{NBSP}€"),  # grouped from five digits, as counts are
        (1234567, "EUR", "de", f"12.345,67{NBSP}€"),
        (1250, "CHF", "en", f"CHF{NBSP}12.50"),  # no sign known: the ISO code
        (1250, "CHF", "de", f"12,50{NBSP}CHF"),
        (1500, "JPY", "en", "¥1,500"),  # a currency without minor units
        (1250, "BHD", "fr", f"1,250{NBSP}BHD"),  # thousandths
        (-250, "EUR", "en", "-€2.50"),
    ],
)
def test_amounts(minor: int, currency: str, language: Language, expected: str) -> None:
    assert format_money(minor, currency, language) == expected


@pytest.mark.parametrize(
    ("minor", "language", "expected"),
    [
        (1250, "en", "12.50"),
        (1250, "fr", "12,50"),
        (123456, "en", "1,234.56"),
        (5, "de", "0,05"),
        (-250, "en", "-2.50"),
    ],
)
def test_without_a_currency_an_amount_stands_alone_never_in_minor_units(
    minor: int, language: Language, expected: str
) -> None:
    assert format_money(minor, None, language) == expected


def test_a_text_given_no_currency_shows_the_amount_alone() -> None:
    # A caller that was not given the site's currency: no euro sign it may not use, no raw cents.
    amounts: tuple[tuple[Language, str], ...] = (("en", "25.00"), ("fr", "25,00"), ("de", "25,00"))
    for language, amount in amounts:
        visitor = render(_credits(2500), audience="visitor", language=language, tz=EXAMPLE_TZ, now=EXAMPLE_NOW)
        assert amount in visitor and "€" not in visitor and "2500" not in visitor


def _credits(to_pay: int | None, reason: Reason = Reason.PARTIAL) -> Decision:
    params = {"admitted": 1, "asked": 2, "need_tickets": 1} if reason is Reason.PARTIAL else {}
    return Decision(
        Verdict.ADMIT, reason, params, admitted=1, balance=0, holder="Marie D.", kind="credit_membership",
        covered=("audioguide",), to_pay=to_pay,
    )  # fmt: skip


def _texts(decision: Decision, language: Language, currency: str = "EUR") -> tuple[str, str]:
    visitor, staff = (
        render(decision, audience=audience, language=language, tz=EXAMPLE_TZ, now=EXAMPLE_NOW, currency=currency)
        for audience in ("visitor", "staff")
    )
    return visitor, staff


@pytest.mark.parametrize(
    ("language", "to_pay"),
    [("en", "€25.00 to pay"), ("fr", f"25,00{NBSP}€ à payer"), ("de", f"25,00{NBSP}€ zu zahlen")],
)
def test_what_is_left_to_pay_is_told_to_visitor_and_staff(language: Language, to_pay: str) -> None:
    for reason in (Reason.PARTIAL, Reason.OK):
        visitor, staff = _texts(_credits(2500, reason), language)
        assert to_pay in visitor and to_pay in staff, (reason, visitor, staff)


def test_the_sites_currency_is_used() -> None:
    visitor, staff = _texts(_credits(2500), "en", currency="GBP")
    assert "£25.00 to pay" in visitor and "£25.00 to pay" in staff


@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_to_pay_says_nothing_of_money(language: Language) -> None:
    for to_pay in (0, None):
        for text in _texts(_credits(to_pay), language):
            assert "€" not in text
