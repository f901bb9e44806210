"""A decision as one line for people: `gate check`, the demo's live view, a log reader.

ADMIT/DENY/STAFF, the visitor's text, the staff's when it differs, then the reason code and
the entitlement: what someone at a terminal needs to see at a glance, in one language.
"""

from __future__ import annotations

import datetime as dt

from gate.decision import Decision
from gate.reasons import Verdict
from gate.text import Audience, render
from gate.text.format import Language

MARKS = {Verdict.ADMIT: "ADMIT", Verdict.DENY: "DENY", Verdict.ATTENTION: "STAFF"}


def text_at(
    decision: Decision, audience: Audience, *, at: dt.datetime, tz: dt.tzinfo, language: Language,
    currency: str | None,
) -> str:  # fmt: skip
    """The decision's text as `audience` reads it at the moment `at` (a bare time on that day)."""
    return render(decision, audience=audience, language=language, tz=tz, now=at, currency=currency)


def decision_text(
    decision: Decision, *, at: dt.datetime, tz: dt.tzinfo, language: Language, currency: str | None = None
) -> str:
    """ADMIT/DENY/STAFF, the visitor's text, the staff's when it differs, then [reason, entitlement].

    Money is in `currency`, the site's (`site.currency`); without it, amounts stand alone.
    """
    visitor = text_at(decision, "visitor", at=at, tz=tz, language=language, currency=currency)
    staff = text_at(decision, "staff", at=at, tz=tz, language=language, currency=currency)
    detail = f"{decision.reason}" + (f", {decision.entitlement_id}" if decision.entitlement_id else "")
    line = f"{MARKS[decision.verdict]:<5}  {visitor}"
    if staff != visitor:
        line += f"  | staff: {staff}"
    return f"{line}  [{detail}]"
