"""Kiosk sessions: a read at a kiosk opens a session; choosing holds, confirming commits, the end releases.

A kiosk has no turnstile. Its read opens a session on the decision point, which answers from
the rules what the code can do here, without journaling a refusal (the first read of a
session is journaled as a lookup):

- a voucher: every eligible performance with its redemption window, seat category, tariff
  and the decision it would get now;
- a credit membership: for each product, the decision it would get (what a credit covers,
  what is left to pay);
- a plain membership, a subscription, a reservation, an admission, anything else: the
  decision alone (for the lanes with what it is, a subscription's seats left for the show
  on now; unpaid with its deadline...). What opens lanes is never consumed here.

Choosing a performance or items holds (one redemption per code of the session); confirming
commits them durably in one transaction, every one of them or none (the session then still
holds them all, and its view says why); cancelling, the inactivity timer or the hard cap
releases them, in one transaction too. A second voucher read during a session joins it when
it shares the first one's product, seat categories and tariffs (several vouchers redeemed at
once, S-360's multiple redemption).

What a kiosk screen needs to say it in people's words comes with each code (`About`, and an
option's `title` and price): names of events and products, times in the site's zone, a
reservation's deadline, the holder's own recent uses. Read on the ledger thread with the rest
of the exploration; never an e-mail, a phone number or an address (the ledger has none), and
the holder only as the decision masks it.

A code may be typed at a kiosk instead of scanned (`typed`): only a voucher's code is taken
that way (or one the ledger does not know, which says so), so nobody pages through other
people's memberships by typing numbers; the screen rate-limits the attempts.

Everything here runs on the event loop under the decision point's lock; ledger work goes
through the point's ledger thread (`run`).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias, TypeVar

from gate.cache import LedgerError
from gate.decision import Ask, Decision
from gate.engine import Engine, Outcome
from gate.errors import GateError
from gate.point.about import About, about_of
from gate.reasons import Reason, Verdict
from gate.records import (
    CreditMembership,
    Performance,
    Voucher,
)
from gate.rules.voucher import redemption_window

log = logging.getLogger("gate.point")

_T = TypeVar("_T")
Run: TypeAlias = Callable[[Callable[[], _T]], Awaitable[_T]]
MAX_OPTIONS = 50  # a kiosk screen shows a choice, not a catalogue
SessionState: TypeAlias = Literal["open", "held", "confirmed", "cancelled", "expired", "replaced"]
ENDED: frozenset[str] = frozenset({"confirmed", "cancelled", "expired", "replaced"})


class KioskError(GateError, LookupError):
    """A kiosk command that cannot be done (no such session, nothing held to confirm)."""


@dataclass(frozen=True, slots=True)
class Option:
    """One choice a kiosk user may make, and the decision it would get now."""

    decision: Decision
    performance: str | None = None
    event: str | None = None
    starts_at: dt.datetime | None = None
    opens_at: dt.datetime | None = None  # the voucher's redemption window for this performance
    closes_at: dt.datetime | None = None
    seat_categories: tuple[str, ...] = ()
    tariffs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()  # the product asked for (a membership's option)
    title: str | None = None  # the event's name, or the product's
    price_cents: int | None = None  # the product's price (a membership's option)


@dataclass(frozen=True, slots=True)
class KioskCode:
    """One code read in a session: what it is, what it alone gets, what it could choose."""

    reference: str | None
    entitlement_id: str | None
    kind: str | None
    decision: Decision
    options: tuple[Option, ...]
    about: About = field(default_factory=About)


@dataclass(frozen=True, slots=True)
class KioskView:
    """What a kiosk screen shows of its session."""

    session: str
    lane: str
    state: SessionState
    codes: tuple[KioskCode, ...]
    held: tuple[Outcome, ...]  # the redemptions held by the last choice
    refused: Decision | None  # why the last choice was refused, if it was
    seconds_left: float  # before the session ends by itself
    lookup_id: str | None  # the journal row of the session's first read
    unconfirmed: str | None = None  # why the last confirm committed nothing (the session still holds)


@dataclass(eq=False)
class _Session:
    id: str
    lane: str
    opened: float
    touched: float
    reads: list[str | bytes]
    codes: list[KioskCode]
    voucher: Voucher | None  # the first voucher, which others must match to join
    lookup_id: str | None
    held: list[Outcome] = field(default_factory=list)
    refused: Decision | None = None
    unconfirmed: str | None = None
    state: SessionState = "open"


class KioskSessions:
    """The kiosk sessions of a decision point's kiosk lanes (one open session per lane)."""

    def __init__(
        self, *, engine: Engine, run: Run[Any], clock: Callable[[], dt.datetime], monotonic: Callable[[], float],
        inactivity_s: float, cap_s: float,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._run = run
        self._clock = clock
        self._monotonic = monotonic
        self.inactivity_s = inactivity_s
        self.cap_s = cap_s
        self._sessions: dict[str, _Session] = {}

    def current(self, lane: str) -> _Session | None:
        session = self._sessions.get(lane)
        return session if session is not None and session.state not in ENDED else None

    def view(self, session: _Session) -> KioskView:
        now = self._monotonic()
        left = min(session.touched + self.inactivity_s, session.opened + self.cap_s) - now
        return KioskView(
            session.id, session.lane, session.state, tuple(session.codes), tuple(session.held), session.refused,
            max(0.0, left) if session.state not in ENDED else 0.0, session.lookup_id, session.unconfirmed,
        )  # fmt: skip

    def _session(self, lane: str, session_id: str) -> _Session:
        session = self.current(lane)
        if session is None or session.id != session_id:
            # The audience rule: a kiosk user acts on the code read in the current session only.
            raise KioskError(f"no open kiosk session {session_id!r} at lane {lane}")
        return session

    # --- commands ---------------------------------------------------------------------------

    async def read(self, read: str | bytes, *, lane: str, typed: bool = False) -> tuple[KioskView, Outcome, bool]:
        """A code read at the kiosk: joins the open session or opens a new one (the old one ends).

        Returns the session's view, what the code alone gets, and whether it opened the session.
        `typed`: typed in on the screen; anything but a voucher's code (or an unknown one) is
        refused (KioskError) before any session opens, and nothing of it is shown.
        """
        at = self._clock()
        outcome, code, voucher = await self._run(lambda: self._explore(read, lane, at, typed=typed))
        session = self.current(lane)
        if session is not None and self._joins(session, voucher, code):
            session.reads.append(read)
            session.codes.append(code)
            session.touched = self._monotonic()
            return self.view(session), outcome, False
        if session is not None:
            await self.end(session, "replaced")
        now = self._monotonic()
        session = _Session(secrets.token_hex(8), lane, now, now, [read], [code], voucher, None)
        reason = outcome.decision.reason.value
        body = {"session": session.id, "reference": code.reference, "verdict": outcome.decision.verdict.value,
                "reason": reason, "kind": code.kind}  # fmt: skip
        record = functools.partial(self._engine.ledger.record_event, "lookup", at=at, lane=lane, body=body,
                                   entitlement_id=code.entitlement_id, reason=reason)  # fmt: skip
        session.lookup_id = await self._run(record)
        self._sessions[lane] = session
        log.info("kiosk %s: session %s opened, entitlement %s, %s", lane, session.id, code.entitlement_id or "-",
                 outcome.decision.reason)  # fmt: skip
        return self.view(session), replace(outcome, decision_id=session.lookup_id), True

    def _joins(self, session: _Session, voucher: Voucher | None, code: KioskCode) -> bool:
        first = session.voucher
        if first is None or voucher is None or session.held:
            return False
        if any(c.entitlement_id == code.entitlement_id for c in session.codes):
            return False
        if code.decision.reason is not Reason.CHOOSE_PERFORMANCE:
            return False  # a used or expired voucher is shown on its own
        return (voucher.product, voucher.seat_categories, voucher.tariffs) == (
            first.product, first.seat_categories, first.tariffs,
        )  # fmt: skip

    async def choose(
        self, *, lane: str, session_id: str, performance: str | None = None, items: tuple[str, ...] = ()
    ) -> KioskView:
        """Hold every code of the session for the choice; any refusal holds none of them."""
        session = self._session(lane, session_id)
        session.touched = self._monotonic()
        await self._release(session, "chosen again")
        session.unconfirmed = None
        at = self._clock()
        ask = Ask(performance=performance, items=items)
        held: list[Outcome] = []
        for read in session.reads:
            outcome = await self._run(functools.partial(self._engine.admit, read, lane=lane, at=at, ask=ask))
            if outcome.redemption is None:
                session.held = held
                await self._release(session, "another code of the choice was refused")
                session.refused = outcome.decision
                return self.view(session)
            held.append(outcome)
        session.held, session.refused, session.state = held, None, "held"
        return self.view(session)

    async def confirm(self, *, lane: str, session_id: str) -> KioskView:
        """Commit what the session holds, durably and all at once; the session ends.

        One commit that fails commits none of them (KioskError): the session still holds
        them all, its view's `unconfirmed` says why, and a retry or a cancel starts clean.
        """
        session = self._session(lane, session_id)
        if not session.held:
            raise KioskError("nothing is chosen yet: choose a performance or items first")
        at = self._clock()
        try:
            await self._run(functools.partial(self._commit_all, _redemptions(session.held), at))
        except LedgerError as exc:
            session.unconfirmed = f"nothing was committed: {exc}"
            log.warning("kiosk %s: session %s not confirmed, nothing committed: %s", lane, session.id, exc)
            raise KioskError(f"kiosk session {session.id} not confirmed, nothing committed: {exc}") from exc
        session.state, session.unconfirmed = "confirmed", None
        confirmed = self.view(session)
        log.info("kiosk %s: session %s confirmed, %d redemption(s)", lane, session.id, len(session.held))
        session.held = []  # committed: nothing left for an end to release
        return confirmed

    async def cancel(self, *, lane: str, session_id: str) -> KioskView:
        session = self._session(lane, session_id)
        await self.end(session, "cancelled")
        return self.view(session)

    async def touch(self, *, lane: str, session_id: str) -> KioskView:
        """More time: the inactivity timer starts again (the hard cap stays)."""
        session = self._session(lane, session_id)
        session.touched = self._monotonic()
        return self.view(session)

    async def end(self, session: _Session, state: SessionState) -> None:
        """End a session; what it holds is released, nothing consumed."""
        await self._release(session, state)
        session.state = state
        log.info("kiosk %s: session %s %s", session.lane, session.id, state)

    def due(self) -> list[_Session]:
        """Sessions whose inactivity timer or hard cap has run out."""
        now = self._monotonic()
        return [
            s for s in self._sessions.values()
            if s.state not in ENDED and (now - s.touched >= self.inactivity_s or now - s.opened >= self.cap_s)
        ]  # fmt: skip

    async def _release(self, session: _Session, why: str) -> None:
        """Release what the session holds, in one transaction (LedgerError: it still holds it all)."""
        if session.held:
            at = self._clock()
            await self._run(functools.partial(self._release_all, _redemptions(session.held), at, f"kiosk: {why}"))
            session.held = []
        if session.state == "held":
            session.state = "open"

    # --- on the ledger thread -------------------------------------------------------------------

    def _commit_all(self, redemptions: list[str], at: dt.datetime) -> None:
        """Every redemption committed in one durable transaction (each commit joins it), or none.

        LedgerError when none was; once COMMIT went through, only the WAL's sync can fail:
        then all of them are committed, and the error is logged, not raised.
        """
        ledger = self._engine.ledger
        written = False
        try:
            with ledger.recording():
                for redemption in redemptions:
                    self._engine.commit(redemption, at=at)
                written = True
        except LedgerError as exc:
            if not written or any(hold.id in redemptions for hold in ledger.open_holds()):
                raise  # rolled back: every one of them is still held (or was finished elsewhere)
            log.error("kiosk: redemptions %s committed, but may not be on disk: %s", ", ".join(redemptions), exc)

    def _release_all(self, redemptions: list[str], at: dt.datetime, why: str) -> None:
        """Release in one durable transaction those still held; one finished elsewhere
        meanwhile (released by staff, say) is left as it is."""
        engine = self._engine
        with engine.ledger.recording():
            held = {hold.id for hold in engine.ledger.open_holds()}
            for redemption in redemptions:
                if redemption in held:
                    engine.release(redemption, at=at, why=why)
                else:
                    log.warning("kiosk: redemption %s is no longer held: nothing to release", redemption)

    def _explore(
        self, read: str | bytes, lane: str, at: dt.datetime, *, typed: bool = False
    ) -> tuple[Outcome, KioskCode, Voucher | None]:
        engine = self._engine
        base = engine.decide(read, lane=lane, at=at, logged=False)
        decision = base.decision
        entitlement = engine.entitlement(decision.entitlement_id)
        options: list[Option] = []
        voucher = entitlement if isinstance(entitlement, Voucher) else None
        code = KioskCode(base.reference, decision.entitlement_id, decision.kind, decision, ())
        if typed and not _typeable(code):  # refused before anything more of it is read
            log.info("kiosk %s: a typed code refused: a %s, not a voucher", lane, code.kind)
            raise KioskError("only a voucher's code can be typed at a kiosk: please scan it")
        if voucher is not None and decision.reason is Reason.CHOOSE_PERFORMANCE:
            options = self._performances(read, lane, at, voucher)
        elif isinstance(entitlement, CreditMembership) and _can_buy(decision):
            options = self._products(read, lane, at)
        about = about_of(self._engine, entitlement, credits_left=_credits_left(options))
        code = KioskCode(base.reference, decision.entitlement_id, decision.kind, decision, tuple(options), about)
        return base, code, voucher

    def _performances(self, read: str | bytes, lane: str, at: dt.datetime, voucher: Voucher) -> list[Option]:
        schedule = self._engine.ledger.schedule()
        found: dict[str, Performance] = {p: schedule.performances[p] for p in voucher.performances
                                         if p in schedule.performances}  # fmt: skip
        for event in voucher.events:
            found.update((p.id, p) for p in schedule.performances_by_event.get(event, ()))
        day_ago = at - dt.timedelta(days=1)
        upcoming = sorted((p for p in found.values() if p.starts_at >= day_ago), key=lambda p: p.starts_at)
        options = []
        for perf in upcoming[:MAX_OPTIONS]:
            outcome = self._engine.decide(read, lane=lane, at=at, ask=Ask(performance=perf.id), logged=False)
            opens, closes = redemption_window(voucher, perf, self._engine.tz)
            named = schedule.events.get(perf.event)
            options.append(Option(
                outcome.decision, performance=perf.id, event=perf.event, starts_at=perf.starts_at.astimezone(
                    self._engine.tz), opens_at=opens, closes_at=closes, seat_categories=perf.seat_categories,
                tariffs=perf.tariffs, title=named.name if named is not None else None,
            ))  # fmt: skip
        return options

    def _products(self, read: str | bytes, lane: str, at: dt.datetime) -> list[Option]:
        products = list(self._engine.ledger.schedule().products.values())[:MAX_OPTIONS]
        options = []
        for product in products:
            outcome = self._engine.decide(read, lane=lane, at=at, ask=Ask(items=(product.id,)), logged=False)
            options.append(Option(outcome.decision, items=(product.id,), title=product.name,
                                  price_cents=product.price_cents))  # fmt: skip
        return options

def _typeable(code: KioskCode) -> bool:
    """A typed code is taken when it is a voucher's, its admission's, or nothing the ledger knows."""
    if code.entitlement_id is None or code.kind == "voucher":
        return True
    return code.kind == "ticket" and code.decision.reason is Reason.VOUCHER_USED


def _can_buy(decision: Decision) -> bool:
    """A credit membership may buy items here: not refused, or refused only because no item was
    asked yet (a kiosk lane sells no product of its own)."""
    if decision.verdict is not Verdict.DENY:
        return True
    return decision.reason is Reason.NOT_ELIGIBLE and not decision.params.get("product")


def _credits_left(options: list[Option]) -> int | None:
    """Credits left now, as the rules count them: an item's balance after it plus what it takes."""
    for option in options:
        decision = option.decision
        if decision.admits and decision.balance is not None:
            return decision.balance + sum(use.credits for use in decision.plan)
    for option in options:
        if option.decision.reason is Reason.NO_CREDIT:
            return 0
    return None


def _redemptions(held: list[Outcome]) -> list[str]:
    return [outcome.redemption for outcome in held if outcome.redemption is not None]  # a held one has its id
