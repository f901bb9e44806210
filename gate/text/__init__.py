"""Texts for decisions: rendered from reason code and parameters, per audience and language.

A `Decision` never carries text (see docs/reasons.md); whoever shows one renders it here, at
the moment and in the language it is shown, so one decision reads "Valable à partir de 09:00"
on a French visitor's screen and "Not yet valid: from 09:00" on the staff screen beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal, TypeAlias

from gate.decision import Decision
from gate.reasons import Reason, Verdict
from gate.text import de, en, fr
from gate.text.catalog import Args, Catalog, Text, apply
from gate.text.format import Language

Audience: TypeAlias = Literal["visitor", "staff"]

LANGUAGES: tuple[Language, ...] = ("en", "fr", "de")
AUDIENCES: tuple[Audience, ...] = ("visitor", "staff")

CATALOGS: Mapping[Language, Catalog] = {"en": en.CATALOG, "fr": fr.CATALOG, "de": de.CATALOG}


# What a visitor sees for a code added to gate.reasons before its texts were written: the lane
# still answers in the visitor's language (the tests fail until the texts exist).
_STAND_INS: Mapping[Verdict, Reason] = {
    Verdict.ADMIT: Reason.OK,
    Verdict.ATTENTION: Reason.CHILD,
    Verdict.DENY: Reason.REVOKED,
}


def _pick(catalog: Catalog, decision: Decision, audience: Audience) -> Text:
    entry = catalog.get(decision.reason)
    if entry is None:
        if audience == "staff":
            return str(decision.reason.value)
        entry = catalog[_STAND_INS[decision.verdict]]
    return entry.visitor if audience == "visitor" else entry.staff


def render(
    decision: Decision,
    *,
    audience: Audience,
    language: Language = "en",
    tz: dt.tzinfo,
    now: dt.datetime | None = None,
    currency: str | None = None,
) -> str:
    """The text for `decision`, as `audience` sees it in `language`.

    Instants are shown in the site's zone `tz`: a bare time ("09:00") when on the same local
    day as `now`, else with the date ("Sat 12 Dec, 09:00"); without `now`, always with the date.
    Money is in the site's `currency` (an ISO 4217 code, `site.currency`): pass it, since
    without one an amount is shown alone ("25.00"), never in a currency the site may not use.
    """
    if language not in CATALOGS:
        raise ValueError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}; expected one of {', '.join(AUDIENCES)}")
    return apply(_pick(CATALOGS[language], decision, audience), Args(decision, language, tz, now, currency))


__all__ = ["AUDIENCES", "CATALOGS", "LANGUAGES", "Audience", "Language", "render"]
