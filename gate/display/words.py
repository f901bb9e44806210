"""The visitor screen's own words, per language: the idle prompt, the result words, the status bar.

A decision's text comes from gate.text (rendered per audience and language from its reason
code); these are the words around it, which the page gets once, in the status message, so
the page carries no catalog of its own. A visitor never reads a cause here: a locked lane, an
out-of-order one and a storage fault all read "Out of order — please use another lane".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypeAlias

from gate.reasons import Verdict
from gate.records import Direction
from gate.text.format import Language

# What the visitor screen shows when no result is up: the lane's mode, in a visitor's terms.
Screen: TypeAlias = Literal["normal", "free", "emergency", "closed"]

WordKey: TypeAlias = Literal[
    "scan", "hold", "formats", "out_of_order", "free", "emergency", "starting",
    "person", "persons", "left", "lane", "entry", "exit",
    "mode_normal", "mode_free", "mode_emergency", "mode_closed",
    "language", "call_staff", "staff_called", "staff", "sync_up", "sync_down",
]  # fmt: skip

WORDS: Mapping[Language, Mapping[WordKey, str]] = {
    "en": {
        "scan": "Scan your ticket or membership",
        "hold": "Hold the code flat under the scanner, below this screen",
        "formats": "Phone or paper · QR, Aztec, PDF417, Data Matrix, barcodes",
        "out_of_order": "Out of order — please use another lane",
        "free": "Free passage — please go through",
        "emergency": "Emergency — the way is open",
        "starting": "Starting…",
        "person": "1 person",
        "persons": "{n} persons",
        "left": "Left: {n}",
        "lane": "Lane {lane}",
        "entry": "Entry",
        "exit": "Exit",
        "mode_normal": "In service",
        "mode_free": "Free passage",
        "mode_emergency": "Emergency",
        "mode_closed": "Out of order",
        "language": "English",
        "call_staff": "Call staff",
        "staff_called": "Staff are on their way",
        "staff": "Staff",
        "sync_up": "Connected",
        "sync_down": "Working offline",
    },
    "fr": {
        "scan": "Scannez votre billet ou votre carte de membre",
        "hold": "Présentez le code à plat sous le lecteur, sous cet écran",
        "formats": "Téléphone ou papier · QR, Aztec, PDF417, Data Matrix, codes-barres",
        "out_of_order": "Hors service — veuillez utiliser un autre couloir",
        "free": "Passage libre — vous pouvez passer",
        "emergency": "Urgence — le passage est ouvert",
        "starting": "Démarrage…",
        "person": "1 personne",
        "persons": "{n} personnes",
        "left": "Restant : {n}",
        "lane": "Couloir {lane}",
        "entry": "Entrée",
        "exit": "Sortie",
        "mode_normal": "En service",
        "mode_free": "Passage libre",
        "mode_emergency": "Urgence",
        "mode_closed": "Hors service",
        "language": "Français",
        "call_staff": "Appeler le personnel",
        "staff_called": "Le personnel arrive",
        "staff": "Personnel",
        "sync_up": "Connecté",
        "sync_down": "Hors ligne",
    },
    "de": {
        "scan": "Scannen Sie Ihr Ticket oder Ihre Mitgliedskarte",
        "hold": "Halten Sie den Code flach unter den Scanner unter diesem Bildschirm",
        "formats": "Handy oder Papier · QR, Aztec, PDF417, Data Matrix, Strichcodes",
        "out_of_order": "Außer Betrieb — bitte benutzen Sie einen anderen Durchgang",
        "free": "Freier Durchgang — bitte gehen Sie durch",
        "emergency": "Notfall — der Durchgang ist offen",
        "starting": "Wird gestartet…",
        "person": "1 Person",
        "persons": "{n} Personen",
        "left": "Übrig: {n}",
        "lane": "Durchgang {lane}",
        "entry": "Eingang",
        "exit": "Ausgang",
        "mode_normal": "In Betrieb",
        "mode_free": "Freier Durchgang",
        "mode_emergency": "Notfall",
        "mode_closed": "Außer Betrieb",
        "language": "Deutsch",
        "call_staff": "Personal rufen",
        "staff_called": "Das Personal kommt",
        "staff": "Personal",
        "sync_up": "Verbunden",
        "sync_down": "Offline",
    },
}

# The result's word, beside its icon and colour (never colour alone).
_ADMIT: Mapping[Language, Mapping[Direction, str]] = {
    "en": {"entry": "Enter", "exit": "Exit"},
    "fr": {"entry": "Entrez", "exit": "Sortez"},
    "de": {"entry": "Eintreten", "exit": "Ausgang"},
}
_DENY: Mapping[Language, str] = {"en": "Stop", "fr": "Stop", "de": "Stopp"}
_ATTENTION: Mapping[Language, str] = {"en": "Please wait", "fr": "Patientez", "de": "Bitte warten"}


def verdict_word(verdict: Verdict, direction: Direction, language: Language) -> str:
    """The big word of a result: Enter / Stop / Please wait, in `language`."""
    if verdict is Verdict.ADMIT:
        return _ADMIT[language][direction]
    return _DENY[language] if verdict is Verdict.DENY else _ATTENTION[language]


# What a result says it admitted and what remains, beside the decision's text.
_KINDS: Mapping[Language, Mapping[str, str]] = {
    "en": {"ticket": "Ticket", "membership": "Membership", "credit_membership": "Credit membership",
           "subscription": "Subscription", "reservation": "Reservation", "voucher": "Voucher"},
    "fr": {"ticket": "Billet", "membership": "Adhésion", "credit_membership": "Carte à crédits",
           "subscription": "Abonnement", "reservation": "Réservation", "voucher": "Bon"},
    "de": {"ticket": "Ticket", "membership": "Mitgliedschaft", "credit_membership": "Guthabenkarte",
           "subscription": "Abonnement", "reservation": "Reservierung", "voucher": "Gutschein"},
}  # fmt: skip
_REMAINS: Mapping[Language, Mapping[str, str]] = {
    "en": {"credits": "Credits left: {n}", "seats": "Seats left for this show: {n}", "visits": "Visits left: {n}",
           "voucher_used": "Voucher used", "left": "Left: {n}"},
    "fr": {"credits": "Crédits restants : {n}", "seats": "Places restantes pour ce spectacle : {n}",
           "visits": "Visites restantes : {n}", "voucher_used": "Bon utilisé", "left": "Restant : {n}"},
    "de": {"credits": "Verbleibendes Guthaben: {n}", "seats": "Verbleibende Plätze für diese Vorstellung: {n}",
           "visits": "Verbleibende Besuche: {n}", "voucher_used": "Gutschein eingelöst", "left": "Übrig: {n}"},
}  # fmt: skip
_SHOW: Mapping[Language, str] = {"en": "Show: {show}", "fr": "Spectacle : {show}", "de": "Vorstellung: {show}"}


def kind_word(kind: str | None, language: Language) -> str | None:
    """What was read, in the visitor's words (Ticket, Membership...), or None for an unknown kind."""
    return _KINDS[language].get(kind or "")


def show_words(show: str, language: Language) -> str:
    return _SHOW[language].format(show=show)


def remains_words(kind: str | None, balance: int | None, language: Language, *, admitted: bool) -> str | None:
    """What is left after this use: credits, seats for this show, visits; "Voucher used" once a
    voucher has opened the lane."""
    words = _REMAINS[language]
    if kind == "voucher" and admitted:
        return words["voucher_used"]
    if balance is None:
        return None
    key = {"credit_membership": "credits", "subscription": "seats", "membership": "visits"}.get(kind or "", "left")
    return words[key].format(n=balance)
