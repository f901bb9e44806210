"""The kiosk screen's websocket messages: a session as the page shows it, and what a page may send.

Out (docs/kiosk.md lists them field by field):

- `status`: the kiosk, its settings and the page's words in its language; sent on connect,
  on a language change, and when the stream lost events (the page starts over);
- `mode`: the kiosk opened or closed (`screen`: normal or closed, never the cause);
- `session`: the open session, worded here in the page's language (decision texts from
  gate.text, names and times from the point's `KioskView`), so the page only lays it out;
- `wipe`: the session is over: the page clears it from its DOM;
- `answer`: the answer to a page message that had an `id`.

Only the holder's masked name (as the decision has it) leaves; a voucher's own code leaves
once, as the QR of a confirmed redemption.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias

import zxingcpp
from pydantic import Field, TypeAdapter

from gate.decision import Decision
from gate.display.kiosk_words import LINES, WORDS
from gate.display.messages import Inbound, Message
from gate.engine import Outcome
from gate.point.about import About
from gate.point.kiosk import KioskCode, KioskView, Option
from gate.reasons import Reason
from gate.text import LANGUAGES
from gate.text.format import Language, format_date, format_instant, format_money
from gate.text.lines import text_at

Flow: TypeAlias = Literal["voucher", "credits", "membership", "reservation", "info"]
_FLOWS: Mapping[str, Flow] = {
    "voucher": "voucher", "credit_membership": "credits", "membership": "membership",
    "subscription": "membership", "reservation": "reservation",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Wording:
    """How a page's messages are worded: its language, the site's zone and currency, the time now."""

    language: Language
    tz: dt.tzinfo
    currency: str | None
    now: dt.datetime
    fold_at: int = 3

    def line(self, key: str, **values: object) -> str:
        return LINES[self.language][key].format(**values)

    def when(self, instant: dt.datetime) -> str:
        return format_instant(instant, self.language, self.tz, self.now).text

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency, self.language)

    def text(self, decision: Decision) -> str:
        if decision.reason is Reason.OFFLINE:  # the lane's words ("this lane") do not fit a kiosk's visitor
            return self.line("offline_refused")
        return text_at(decision, "visitor", at=self.now, tz=self.tz, language=self.language, currency=self.currency)

    def count(self, n: int, one: str, many: str) -> str:
        return self.line(one) if n == 1 else self.line(many, n=n)


def flow_of(code: KioskCode) -> Flow:
    """Which screen a session's first code leads to (an admission a voucher became: the voucher's)."""
    if code.kind == "ticket" and code.decision.reason is Reason.VOUCHER_USED:
        return "voucher"
    return _FLOWS.get(code.kind or "", "info")


def session_message(view: KioskView, step: str, w: Wording) -> Message:
    """The session as the page shows it: every line already in the page's language."""
    first = view.codes[0]
    flow = flow_of(first)
    held = list(view.held)
    confirmed = view.state == "confirmed"
    names = {o.items[0]: o.title for o in first.options if o.items and o.title}
    message: Message = {
        "type": "session", "session": view.session, "state": view.state, "step": step,
        "seconds_left": round(view.seconds_left, 1), "flow": flow,
        "holder": w.line("hello", holder=first.decision.holder) if first.decision.holder else None,
        "verdict": first.decision.verdict.value, "tone": _tone(first.decision),
        "text": None if _nothing_asked(first, flow) else w.text(first.decision),
        "facts": _facts(first.about, flow, w), "uses": _uses(first.about, flow, w),
        "codes": [w.text(code.decision) for code in view.codes[1:]],
        "together": w.line("vouchers_together", n=len(view.codes)) if len(view.codes) > 1 else None,
        "choosing": first.decision.reason is Reason.CHOOSE_PERFORMANCE and not confirmed,
        "events": _events(view.codes, w) if flow == "voucher" and not confirmed else [],
        "products": _products(first.options, w) if flow == "credits" and not confirmed else [],
        "held": None if confirmed else _chosen(held, flow, w, names),
        "refused": w.text(view.refused) if view.refused is not None else None,
        "unconfirmed": view.unconfirmed is not None,
        "done": _done(held, flow, w, names) if confirmed else None,
    }  # fmt: skip
    return message


def _tone(decision: Decision) -> str:
    """How the page colours a code's text: a prompt ("choose", "show it at the entrance") is no refusal."""
    if decision.reason in (Reason.CHOOSE_PERFORMANCE, Reason.FOR_LANES):
        return "info"
    return decision.verdict.value


def _nothing_asked(code: KioskCode, flow: Flow) -> bool:
    """A credit membership read at a kiosk that sells nothing itself: "not eligible" for no item
    yet, which is no news for the member (the products follow)."""
    decision = code.decision
    return flow == "credits" and decision.reason is Reason.NOT_ELIGIBLE and not decision.params.get("product")


def _facts(about: About, flow: Flow, w: Wording) -> list[str]:
    """What the code is: its product, validity, benefits, credits; a reservation's status and items."""
    facts: list[str] = [about.product] if about.product and flow != "reservation" else []
    if about.valid_from is not None and about.valid_from > w.now.astimezone(w.tz).date():
        facts.append(w.line("valid_from", date=format_date(about.valid_from, w.language)))
    if about.valid_until is not None:
        facts.append(w.line("valid_until", date=format_date(about.valid_until, w.language)))
    for perk in about.perks:
        if perk.kind == "discount":
            facts.append(perk.name or w.line("perk_discount", percent=perk.percent))
        else:
            facts.append(perk.name or w.line("perk_entry"))
    if about.credits_left is not None:
        facts.append(w.line("credits_left", n=about.credits_left))
    if flow == "membership" and about.persons is not None:
        facts.append(w.line("seats_each", n=about.persons))
    show = about.show
    if flow == "reservation":
        if show is not None:
            persons = w.count(about.persons or 1, "persons_one", "persons")
            facts.append(w.line("items", persons=persons, show=show.title or "", time=w.when(show.starts_at)))
        facts.append(w.line("paid" if about.paid else "unpaid"))
        if about.deadline is not None:
            past = about.deadline < w.now
            facts[-1] = w.line("released") if past else facts[-1]
            if not past:
                facts.append(w.line("deadline", when=w.when(about.deadline)))
    elif flow == "voucher" and show is not None:
        facts.append(w.line("used_for", show=show.title or "", time=w.when(show.starts_at)))
    return facts


def _uses(about: About, flow: Flow, w: Wording) -> list[str]:
    lines = []
    for use in about.uses:
        parts = [w.when(use.at), use.show or use.zone or "", w.count(use.persons, "persons_one", "persons")]
        if flow == "credits" and use.credits:
            parts.append(w.count(use.credits, "credits_one", "credits"))
        lines.append(" · ".join(p for p in parts if p))
    return lines


def _events(codes: Sequence[KioskCode], w: Wording) -> list[Message]:
    """The performances every voucher of the session may be redeemed for now, per event, nearest first;
    an event with `fold_at` or more is folded (the page expands it)."""
    allowed = [{o.performance for o in code.options if o.decision.admits} for code in codes]
    common = set.intersection(*allowed) if allowed else set()
    events: dict[str, list[Option]] = {}
    for option in sorted(codes[0].options, key=lambda o: o.starts_at or w.now):
        if option.performance in common:
            events.setdefault(option.event or "", []).append(option)
    found = []
    for event, options in events.items():
        title = options[0].title or event
        performances = [_performance(o, w) for o in options]
        expand = WORDS[w.language]["expand"].format(title=title, n=len(options), first=performances[0]["when"])
        found.append({"event": event, "title": title, "folded": len(options) >= w.fold_at, "expand": expand,
                      "performances": performances})  # fmt: skip
    return found


def _performance(option: Option, w: Wording) -> Message:
    admission = option.decision.admission
    seat = admission.seat_category if admission is not None else None
    tariff = admission.tariff if admission is not None else None
    when = w.when(option.starts_at) if option.starts_at is not None else ""
    return {
        "performance": option.performance, "title": option.title, "when": when,
        "seat": w.line("seat", seat=seat) if seat else None,
        "tariff": w.line("tariff", tariff=tariff) if tariff else None,
    }  # fmt: skip


def _products(options: Sequence[Option], w: Wording) -> list[Message]:
    return [
        {"product": o.items[0], "title": o.title or o.items[0],
         "price": w.money(o.price_cents) if o.price_cents else None,
         "covered": WORDS[w.language]["covered_each" if o.decision.covered else "not_covered"]}
        for o in options if o.items and o.decision.reason is not Reason.NOT_ELIGIBLE
    ]  # fmt: skip


def _items(covered: Sequence[str], names: Mapping[str, str]) -> str:
    counts = Counter(covered)
    return ", ".join(f"{n} × {names.get(p, p)}" for p, n in counts.items())


def _chosen(held: Sequence[Outcome], flow: Flow, w: Wording, names: Mapping[str, str]) -> Message | None:
    """What the session holds, before its confirm: the performance, or what the credits cover."""
    if not held:
        return None
    decision = held[0].decision
    if flow == "credits":
        return {"lines": _credit_lines(decision, w, names)}
    performance = decision.plan[0].performance if decision.plan else None
    return {"lines": [_show_line(decision, w)], "performance": performance}


def _show_line(decision: Decision, w: Wording) -> str:
    params = decision.params
    starts = params.get("starts_at")
    parts = [str(params.get("show") or ""), w.when(starts) if isinstance(starts, dt.datetime) else ""]
    admission = decision.admission
    if admission is not None and admission.seat_category:
        parts.append(w.line("seat", seat=admission.seat_category))
    if admission is not None and admission.tariff:
        parts.append(w.line("tariff", tariff=admission.tariff))
    return " · ".join(p for p in parts if p)


def _credit_lines(decision: Decision, w: Wording, names: Mapping[str, str], *, done: bool = False) -> list[str]:
    items = _items(decision.covered, names)
    lines = [w.line("credits_done" if done else "covered", items=items)] if decision.covered else []
    to_pay = decision.to_pay
    lines.append(w.line("to_pay", amount=w.money(to_pay)) if to_pay else w.line("nothing_to_pay"))
    if decision.balance is not None:
        lines.append(w.line("credits_after", n=decision.balance))
    return lines


def _done(held: Sequence[Outcome], flow: Flow, w: Wording, names: Mapping[str, str]) -> Message:
    """A confirmed session: what it did, and for vouchers their own codes as QR codes."""
    if not held:
        return {"lines": [], "qrs": []}
    decision = held[0].decision
    if flow == "credits":
        return {"lines": _credit_lines(decision, w, names, done=True), "qrs": []}
    params = decision.params
    starts = params.get("starts_at")
    show, time = str(params.get("show") or ""), w.when(starts) if isinstance(starts, dt.datetime) else ""
    line = w.line("voucher_done", show=show, time=time) if len(held) == 1 else w.line(
        "vouchers_done", n=len(held), show=show, time=time)  # fmt: skip
    qrs = [{"src": qr_data_uri(o.reference)} for o in held if o.reference]
    return {"lines": [line], "qrs": qrs}


def qr_data_uri(text: str) -> str:
    """`text` as a QR code, an SVG in a data: URI (the CSP allows `img-src data:`), made here."""
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    svg: str = barcode.to_svg(add_quiet_zones=True)
    # A viewBox, so the image scales to the size the page gives it, module edges kept sharp.
    svg = re.sub(r'<svg width="(\d+)" height="(\d+)"', r'<svg viewBox="0 0 \1 \2" width="\1" height="\2" '
                 r'shape-rendering="crispEdges"', svg, count=1)  # fmt: skip
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def status_message(*, lane: str, zone: str, language: Language, screen: str, timezone: str,
                   settings: Mapping[str, Any]) -> Message:  # fmt: skip
    return {
        "type": "status", "lane": lane, "zone": zone, "kind": "kiosk", "language": language,
        "languages": list(LANGUAGES), "screen": screen, "timezone": timezone, **settings,
        "words": dict(WORDS[language]),
    }  # fmt: skip


# --- what a page may send -----------------------------------------------------------------------

SessionId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
ProductId = Annotated[str, Field(min_length=1, max_length=128)]
MessageId = Annotated[int, Field(ge=0, le=2**31)]


class Choose(Inbound):
    """Hold the session's codes for a performance, or a credit membership's items."""

    type: Literal["choose"]
    id: MessageId | None = None
    session: SessionId
    performance: str | None = Field(default=None, min_length=1, max_length=128)
    items: list[ProductId] = Field(default_factory=list, max_length=20)  # a list: strict JSON has no tuples


class Act(Inbound):
    """confirm, cancel, more_time: on the session the page shows."""

    type: Literal["confirm", "cancel", "more_time"]
    id: MessageId | None = None
    session: SessionId


class Typed(Inbound):
    """A voucher's code typed on the page's keypad (rate-limited per kiosk)."""

    type: Literal["typed"]
    id: MessageId | None = None
    code: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")


class Done(Inbound):
    """The kiosk user is done with a confirmation: the page is wiped now."""

    type: Literal["done"]
    id: MessageId | None = None


class SetLanguage(Inbound):
    type: Literal["language"]
    id: MessageId | None = None
    language: Language


KioskInbound: TypeAlias = Choose | Act | Typed | Done | SetLanguage
INBOUND: TypeAdapter[KioskInbound] = TypeAdapter(Annotated[KioskInbound, Field(discriminator="type")])
