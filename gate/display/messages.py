"""The visitor screen's websocket messages: what the daemon sends, and the little a page may send back.

Out (JSON objects, `type` first; docs/display.md lists them field by field):

- `status`: the lane as a visitor sees it, and the page's words in its language; sent on
  connect and again whenever the stream lost events (`Missed`), so the page starts over;
- `mode`: the lane's mode changed (`screen` is what a visitor sees: never the cause);
- `decision`: a read decided at the lane, its visitor text rendered in the page's language,
  with how long it may stay up (`display`);
- `passage`: a step of the turnstile's passage, so an admit leaves the screen once it is over;
- `pong`: the answer to a page's `ping`.

In: `ping` (any screen), and the visitor screen's own (gate.display.visitor). Anything else,
or more than `MAX_MESSAGE` bytes, is dropped.

Only the holder's masked name, as the `Decision` carries it, ever leaves; never an e-mail, a
phone number or an address (the gate does not have them).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from gate.config import GateConfig
from gate.display.words import WORDS, Screen, kind_word, remains_words, show_words, verdict_word
from gate.point.events import DecisionMade, PassageStep
from gate.point.model import CLOSED_MODES, LaneMode, LaneStatus
from gate.reasons import Verdict
from gate.text import LANGUAGES
from gate.text.format import Language
from gate.text.lines import text_at

Message: TypeAlias = dict[str, Any]

MAX_MESSAGE = 4096  # bytes a page's message may have: a ping or a paint report is a few dozen


@dataclass(frozen=True, slots=True)
class Timing:
    """How long a result may stay on the visitor screen (the page never shows one longer)."""

    refusal_s: float = 5.0  # a refusal
    admit_s: float = 4.0  # an admit with no passage to wait for (no turnstile, nothing held)
    linger_s: float = 1.5  # an admit after its passage ended
    passage_s: float | None = None  # a turnstile's time per person; None: no turnstile
    attention_s: float = 600.0  # an attention verdict, unless the next decision replaces it

    @classmethod
    def of(cls, config: GateConfig) -> Timing:
        turnstile = config.turnstile
        per_person = None if turnstile is None else max(turnstile.passage_timeout_s, turnstile.accessible_timeout_s)
        return cls(passage_s=per_person, attention_s=config.staff.attention_expiry_s)

    def display(self, event: DecisionMade) -> Message:
        """`until`: "passage" (an admit: until its passage ends, plus `linger_ms`), "time" or
        "next" (attention: until the next decision); `ms`: never longer than this."""
        decision = event.decision
        if decision.verdict is Verdict.ADMIT:
            if event.redemption is not None and self.passage_s is not None:
                # Every person's timeout, a companion's included, then the linger: a cap the
                # passage's own end comes well before.
                cap = self.passage_s * (decision.admitted + 1) + self.linger_s
                return {"until": "passage", "ms": round(cap * 1000), "linger_ms": round(self.linger_s * 1000)}
            return {"until": "time", "ms": round(self.admit_s * 1000)}
        if decision.verdict is Verdict.ATTENTION:
            return {"until": "next", "ms": round(self.attention_s * 1000)}
        return {"until": "time", "ms": round(self.refusal_s * 1000)}


def screen_of(mode: LaneMode) -> Screen:
    """What a visitor sees of a mode: a locked lane and an out-of-order one (storage too) read the same."""
    if mode in CLOSED_MODES:
        return "closed"
    return {LaneMode.FREE: "free", LaneMode.EMERGENCY: "emergency"}.get(mode, "normal")  # type: ignore[return-value]


def status_message(status: LaneStatus, config: GateConfig, *, language: Language, sync: str | None = None) -> Message:
    lane = config.lanes[status.lane]
    return {
        "type": "status",
        "lane": status.lane,
        "zone": config.zones[lane.zone].name,
        "kind": status.kind,
        "directions": list(lane.directions),
        "timezone": config.site.timezone,
        "language": language,
        "languages": list(LANGUAGES),
        **_mode_fields(status),
        "sync": sync,  # the device's sync link, up or down (none: no sync): a neutral badge, nothing more
        "words": dict(WORDS[language]),
        "translations": {lang: dict(WORDS[lang]) for lang in LANGUAGES},  # for the language switch
    }


def mode_message(status: LaneStatus) -> Message:
    return {"type": "mode", **_mode_fields(status)}


def _mode_fields(status: LaneStatus) -> Message:
    # `cause` is the enum (staff, fire_alarm, storage), never staff's reason text; the page
    # shows only `screen`.
    return {"mode": status.mode.value, "cause": status.mode_cause, "screen": screen_of(status.mode)}


def decision_message(
    event: DecisionMade, *, language: Language, tz: dt.tzinfo, currency: str | None, timing: Timing
) -> Message:
    """A decision as the visitor screen shows it: the visitor's text, never the staff's.

    Rendered in every language of the screen (`texts`), so a touch on the language switch
    repaints it at once; `language` is the one to show first: the holder's preferred one when
    the ledger has it and the screen speaks it, else the page's.
    """
    decision = event.decision
    shown = spoken(event.language) or language
    texts = {lang: _texts(event, lang, tz, currency) for lang in LANGUAGES}
    return {
        "type": "decision",
        "decision_id": event.decision_id,
        "verdict": decision.verdict.value,
        "reason": decision.reason.value,
        "word": texts[shown]["word"],
        "text": texts[shown]["text"],
        "holder": decision.holder,  # first name and initial, as the decision has it
        "admitted": decision.admitted,
        "balance": decision.balance,
        "direction": event.direction,
        "redemption": event.redemption,
        "language": shown,
        "texts": texts,
        "display": timing.display(event),
    }


def spoken(language: str | None) -> Language | None:
    """The screen's language for a holder's preferred one (BCP 47: "fr-CA" is French), if it has it."""
    if not language:
        return None
    primary = language.split("-", 1)[0].lower()
    return next((lang for lang in LANGUAGES if lang == primary), None)


def _texts(event: DecisionMade, language: Language, tz: dt.tzinfo, currency: str | None) -> Message:
    """The word, the text and the details (what was admitted, what remains) in one language;
    a detail the text already says is left out."""
    decision = event.decision
    text = text_at(decision, "visitor", at=event.at, tz=tz, language=language, currency=currency)
    admitted = decision.verdict is Verdict.ADMIT and decision.admitted > 0
    details: list[str] = []
    if decision.holder and decision.holder not in text:
        details.append(decision.holder)
    if admitted:
        persons = WORDS[language]["persons"].format(n=decision.admitted)
        details.append(WORDS[language]["person"] if decision.admitted == 1 else persons)
    kind = kind_word(decision.kind, language)
    if kind is not None:
        details.append(kind)
    show = decision.params.get("show")
    if isinstance(show, str) and show and show not in text:
        details.append(show_words(show, language))
    remains = remains_words(decision.kind, decision.balance, language, admitted=admitted)
    if remains is not None and (decision.balance is None or str(decision.balance) not in text):
        details.append(remains)
    return {"word": verdict_word(decision.verdict, event.direction, language), "text": text, "details": details}


def passage_message(event: PassageStep) -> Message:
    return {
        "type": "passage",
        "step": event.step,
        "redemption": event.redemption,
        "direction": event.direction,
        "passed": event.passed,
        "expected": event.expected,
        "done": event.result is not None,  # the passage is over: an admit may leave the screen
    }


# --- what a page may send ---------------------------------------------------------------------


class Inbound(BaseModel):
    """A page's message: strict, nothing extra (each screen allow-lists its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Painted(Inbound):
    """The page painted a decision `ms` after its message arrived (performance.now() based)."""

    type: Literal["painted"]
    decision_id: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    ms: float = Field(ge=0, le=600_000)
