"""What visitors and staff actually read, in English, French and German."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gate.decision import Decision, Param
from gate.reasons import Reason
from gate.text import LANGUAGES, Audience, Language, render
from gate.text.params import verdict_of

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 12, 10, 8, 30, tzinfo=PARIS)  # Thursday morning
NBSP = "\u00a0"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=PARIS)


def text(
    reason: Reason,
    audience: Audience,
    language: Language,
    params: dict[str, Param] | None = None,
    *,
    holder: str | None = None,
    admitted: int = 1,
    kind: str | None = None,
    balance: int | None = None,
    now: dt.datetime | None = NOW,
) -> str:
    decision = Decision(
        verdict_of(reason), reason, params or {}, admitted=admitted, balance=balance, holder=holder, kind=kind
    )
    return render(decision, audience=audience, language=language, tz=PARIS, now=now)


# (reason, params, en, fr, de) for visitors
VISITOR: list[tuple[Reason, dict[str, Param], str, str, str]] = [
    (
        Reason.NOT_YET_VALID,
        {"valid_from": at(10, 9)},
        "Valid from 09:00",
        "Valable à partir de 09:00",
        "Gültig ab 09:00",
    ),
    (
        Reason.NOT_YET_VALID,
        {"valid_from": at(12, 9)},
        "Valid from Sat 12 Dec, 09:00",
        "Valable à partir du sam. 12 déc., 09:00",
        "Gültig ab Sa. 12. Dez., 09:00",
    ),
    (Reason.NOT_YET_VALID, {}, "Not valid yet", "Pas encore valable", "Noch nicht gültig"),
    (
        Reason.ALREADY_USED,
        {"used_at": at(10, 8, 12)},
        "Already used at 08:12",
        "Déjà utilisé à 08:12",
        "Bereits um 08:12 genutzt",
    ),
    (
        Reason.ALREADY_USED,
        {"used_at": at(9, 18, 5)},
        "Already used on Wed 9 Dec, 18:05",
        "Déjà utilisé le mer. 9 déc., 18:05",
        "Bereits am Mi. 9. Dez., 18:05 genutzt",
    ),
    (
        Reason.LIMIT_REACHED,
        {"per": "day", "count": 1},
        "Already used today",
        "Déjà utilisé aujourd'hui",
        "Heute bereits genutzt",
    ),
    (
        Reason.LIMIT_REACHED,
        {"per": "week", "count": 2},
        "Already used this week",
        "Déjà utilisé cette semaine",
        "Diese Woche bereits genutzt",
    ),
    (
        Reason.SHOW_USED,
        {"used": 2, "quantity": 2, "show": "Hamlet"},
        "2 of 2 seats for Hamlet used",
        "2 places sur 2 utilisées pour Hamlet",
        "2 von 2 Plätzen für Hamlet genutzt",
    ),
    (
        Reason.SHOW_USED,
        {"used": 1, "quantity": 1, "show": "Hamlet"},
        "1 of 1 seat for Hamlet used",
        "1 place sur 1 utilisée pour Hamlet",
        "1 von 1 Platz für Hamlet genutzt",
    ),
    (
        Reason.PARTIAL,
        {"admitted": 2, "asked": 3, "need_tickets": 1},
        "2 of 3 may enter — 1 needs a ticket",
        "Entrée pour 2 sur 3 — il manque 1 billet",
        "Einlass für 2 von 3 — 1 Ticket fehlt",
    ),
    (
        Reason.PARTIAL,
        {"admitted": 2, "asked": 5},
        "2 of 5 may enter — 3 need tickets",
        "Entrée pour 2 sur 5 — il manque 3 billets",
        "Einlass für 2 von 5 — 3 Tickets fehlen",
    ),
    (
        Reason.UNPAID,
        {"deadline": at(12, 23, 59)},
        "Reservation not paid — please see the desk",
        "Réservation non payée — adressez-vous à l'accueil",
        "Reservierung nicht bezahlt — bitte an der Kasse melden",
    ),
    (Reason.EXIT, {}, "Goodbye", "Au revoir", "Auf Wiedersehen"),
    (
        Reason.ID_CHECK,
        {},
        "Please wait — staff will check your ID",
        "Veuillez patienter — contrôle d'identité par le personnel",
        "Bitte warten — das Personal prüft Ihren Ausweis",
    ),
    (Reason.CLOSED, {}, "Closed", "Fermé", "Geschlossen"),
    (
        Reason.CLOSED,
        {"opens_at": at(10, 10)},
        "Closed — opens at 10:00",
        "Fermé — ouverture à 10:00",
        "Geschlossen — öffnet um 10:00",
    ),
    (
        Reason.BLACKOUT,
        {"day": dt.date(2026, 12, 10)},
        "Not valid today",
        "Non valable aujourd'hui",
        "Heute nicht gültig",
    ),
    (
        Reason.VOUCHER_EXPIRED,
        {"expired_on": dt.date(2026, 12, 1)},
        "Voucher expired on 1 Dec 2026",
        "Bon expiré le 1er déc. 2026",
        "Gutschein am 1. Dez. 2026 abgelaufen",
    ),
    (
        Reason.EXPIRED,
        {"expired_at": dt.datetime(2025, 6, 30, 23, 59, tzinfo=PARIS)},
        "Expired on 30 Jun 2025",
        "Expiré le 30 juin 2025",
        "Abgelaufen am 30. Juni 2025",
    ),
    (Reason.NO_CREDIT, {"balance": 0}, "No credits left", "Plus de crédits", "Keine Credits mehr"),
]


@pytest.mark.parametrize(("reason", "params", "en", "fr", "de"), VISITOR)
def test_visitor_texts(reason: Reason, params: dict[str, Param], en: str, fr: str, de: str) -> None:
    assert text(reason, "visitor", "en", params) == en
    assert text(reason, "visitor", "fr", params) == fr
    assert text(reason, "visitor", "de", params) == de


STAFF: list[tuple[Reason, dict[str, Param], str, str, str]] = [
    (
        Reason.UNPAID,
        {"deadline": at(12, 23, 59)},
        "Unpaid reservation; confirm by Sat 12 Dec, 23:59",
        f"Réservation non payée{NBSP}; à confirmer au plus tard le sam. 12 déc., 23:59",
        "Reservierung unbezahlt; bestätigen bis Sa. 12. Dez., 23:59",
    ),
    (
        Reason.LIMIT_REACHED,
        {"per": "day", "count": 1},
        "Limit reached: 1 per day",
        f"Limite atteinte{NBSP}: 1 par jour",
        "Limit erreicht: 1 pro Tag",
    ),
    (
        Reason.LIMIT_REACHED,
        {"per": "lifetime", "count": 5},
        "Limit reached: 5 in total",
        f"Limite atteinte{NBSP}: 5 au total",
        "Limit erreicht: 5 insgesamt",
    ),
    (
        Reason.ANTI_PASSBACK,
        {"until": at(10, 10, 42)},
        "Anti-passback until 10:42",
        "Anti-retour jusqu'à 10:42",
        "Anti-Passback bis 10:42",
    ),
    (
        Reason.TEST_AT_LIVE_LANE,
        {},
        "Test entitlement at a live lane",
        "Titre de test sur un couloir en production",
        "Testberechtigung an einem Durchgang im Echtbetrieb",
    ),
    (
        Reason.CLOSED,
        {},
        "Closed; next opening unknown",
        f"Fermé{NBSP}; prochaine ouverture inconnue",
        "Geschlossen; nächste Öffnung unbekannt",
    ),
    (
        Reason.SITE_FULL,
        {"capacity": 12500},
        "Capacity reached: 12,500",
        f"Capacité atteinte{NBSP}: 12\u202f500",
        "Kapazität erreicht: 12.500",
    ),
    (
        Reason.OVERRIDE,
        {"by": "badge 0042", "note": "lost ticket"},
        "Override by badge 0042: lost ticket",
        f"Dérogation par badge 0042{NBSP}: lost ticket",
        "Freigabe durch badge 0042: lost ticket",
    ),
]


@pytest.mark.parametrize(("reason", "params", "en", "fr", "de"), STAFF)
def test_staff_texts(reason: Reason, params: dict[str, Param], en: str, fr: str, de: str) -> None:
    assert text(reason, "staff", "en", params) == en
    assert text(reason, "staff", "fr", params) == fr
    assert text(reason, "staff", "de", params) == de


@pytest.mark.parametrize(
    ("holder", "admitted", "kind", "balance", "en", "fr", "de"),
    [
        ("Marie D.", 1, "membership", None, "Welcome, Marie D.", "Bienvenue, Marie D.", "Willkommen, Marie D."),
        (None, 1, "ticket", None, "Welcome", "Bienvenue", "Willkommen"),
        (None, 3, "ticket", None, "Welcome — 3 may enter", "Bienvenue — entrée pour 3", "Willkommen — Einlass für 3"),
        (
            "Marie D.",
            1,
            "credit_membership",
            4,
            "Welcome, Marie D. — 4 credits left",
            "Bienvenue, Marie D. — 4 crédits restants",
            "Willkommen, Marie D. — noch 4 Credits",
        ),
        (
            "Marie D.",
            1,
            "credit_membership",
            1,
            "Welcome, Marie D. — 1 credit left",
            "Bienvenue, Marie D. — 1 crédit restant",
            "Willkommen, Marie D. — noch 1 Credit",
        ),
        (
            None,
            1,
            "credit_membership",
            0,
            "Welcome — 0 credits left",
            "Bienvenue — 0 crédit restant",
            "Willkommen — noch 0 Credits",
        ),
        # A subscription's balance is for staff; the visitor only needs to go in.
        (
            "Marie D.",
            2,
            "subscription",
            0,
            "Welcome, Marie D. — 2 may enter",
            "Bienvenue, Marie D. — entrée pour 2",
            "Willkommen, Marie D. — Einlass für 2",
        ),
    ],
)
def test_welcome(holder: str | None, admitted: int, kind: str, balance: int | None, en: str, fr: str, de: str) -> None:
    for language, expected in zip(LANGUAGES, (en, fr, de), strict=True):
        got = text(Reason.OK, "visitor", language, holder=holder, admitted=admitted, kind=kind, balance=balance)
        assert got == expected


@pytest.mark.parametrize(
    ("balance", "en", "fr", "de"),
    [
        (1, "1 seat left", "1 place restante", "noch 1 Platz"),
        (2, "2 seats left", "2 places restantes", "noch 2 Plätze"),
    ],
)
def test_staff_see_a_subscriptions_seats_left(balance: int, en: str, fr: str, de: str) -> None:
    for language, expected in zip(LANGUAGES, (en, fr, de), strict=True):
        got = text(Reason.OK, "staff", language, holder="Marie D.", kind="subscription", balance=balance)
        assert got.endswith(expected), got


def test_partial_without_counts_still_says_who_may_enter() -> None:
    assert text(Reason.PARTIAL, "visitor", "en", admitted=2) == "2 may enter — the others need tickets"
    assert text(Reason.PARTIAL, "staff", "en", admitted=2) == "Partial: 2 admitted"


def test_not_enough_credits_names_the_balance() -> None:
    assert text(Reason.NO_CREDIT, "visitor", "en", {"balance": 1}) == "Not enough credits — 1 left"
    assert text(Reason.NO_CREDIT, "visitor", "fr", {"balance": 2}) == "Crédits insuffisants — 2 restants"
    assert text(Reason.NO_CREDIT, "staff", "de", balance=0) == "Keine Credits mehr (Saldo 0)"
