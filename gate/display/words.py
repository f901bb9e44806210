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
