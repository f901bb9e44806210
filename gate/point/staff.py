"""Staff at the decision point: who they are (PIN or badge login) and the acts that need no turnstile.

A PIN login reads the staff record on the point's ledger thread and checks the PIN (scrypt,
tens of milliseconds) on a worker thread, so a login never holds up a decision. A badge is
a signed credential of kind staff, checked against the ledger's staff keys, revocations and
the staff record. Either gives an `Actor` whose audience is the staff member's role.

A staff badge read at a lane's reader is a login too (`badge_read`): journaled as
`staff.login` (or `staff.login_refused`), on a closed lane as well, it opens a staff session
at that lane for `[staff] session_s`.

The acts here (lookup, occupancy correction) are journaled with who did them and why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from gate.credentials import CredentialError
from gate.credentials.badge import check_badge
from gate.decision import Use
from gate.engine import Engine, Outcome
from gate.errors import GateError
from gate.point.commands import Actor, Audience, BadgeLogin, PinLogin
from gate.records import Direction, Entitlement
from gate.staff import PinCheck, PinLockout, check_pin

log = logging.getLogger("gate.point")

_T = TypeVar("_T")
Run: TypeAlias = Callable[[Callable[[], _T]], Awaitable[_T]]
RECENT_USES = 10


class LoginRefused(GateError, PermissionError):
    """A PIN or badge that does not log anybody in; the message never says whether the id exists."""


@dataclass(frozen=True, slots=True)
class StaffSession:
    """What a staff badge read at a lane gave: a session (`actor`), or why not (`refused`)."""

    lane: str
    actor: Actor | None
    refused: str | None  # the badge's reason code when it logs nobody in
    journal_id: str
    since: dt.datetime
    until: dt.datetime  # the session's end (= since when refused)


@dataclass(frozen=True, slots=True)
class PendingAttention:
    """An attention verdict waiting for staff: the read to decide again once they confirm."""

    read: str | bytes
    direction: Direction
    party: int | None
    entitlement_id: str | None
    due: float  # loop time at which it expires


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What staff see of a code they look up: it consumes nothing."""

    outcome: Outcome  # the decision the code would get here now
    entitlement: Entitlement | None
    recent_uses: tuple[Use, ...]  # newest last
    journal_id: str


class StaffDesk:
    """Logins and the staff acts that are not about a turnstile, for one decision point."""

    def __init__(self, *, engine: Engine, run: Run[Any], clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._run = run
        self._clock = clock
        self.lockout = PinLockout()

    async def login(self, login: PinLogin | BadgeLogin) -> Actor:
        at = self._clock()
        if isinstance(login, BadgeLogin):
            try:
                badge = await self._run(lambda: check_badge(self._engine.ledger, login.badge, at))
            except CredentialError as exc:
                log.info("badge login refused reason=%s", exc.reason)
                raise LoginRefused(f"badge refused: {exc.reason.value}") from None
            return Actor(Audience(badge.role), f"badge:{badge.credential_id}")
        staff = await self._run(lambda: self._engine.ledger.staff(login.staff))
        usable = staff is not None and staff.pin is not None and staff.valid_at(at)
        stored = staff.pin if usable and staff is not None else None
        verdict, left = await asyncio.to_thread(check_pin, stored, login.staff, login.pin, self.lockout)
        if verdict is PinCheck.LOCKED:
            log.warning("pin login locked staff=%s for %.0f s", login.staff, left)
            raise LoginRefused(f"too many wrong PINs: try again in {left:.0f} s")
        if verdict is not PinCheck.OK or staff is None:
            log.info("pin login refused staff=%s", login.staff)
            raise LoginRefused("wrong staff id or PIN")
        return Actor(Audience(staff.role), f"pin:{staff.id}")

    async def badge_read(self, lane: str, text: str, *, mode: str) -> StaffSession:
        """A staff badge read at `lane`'s reader: a staff login, journaled whatever the lane's mode."""
        at = self._clock()
        session: StaffSession = await self._run(lambda: self._badge_read(lane, text, at, mode))
        return session

    def _badge_read(self, lane: str, text: str, at: dt.datetime, mode: str) -> StaffSession:
        ledger = self._engine.ledger
        try:
            badge = check_badge(ledger, text, at)
        except CredentialError as exc:
            body = {"via": "badge", "reason": exc.reason.value, "mode": mode}
            journal_id = ledger.record_event(
                "staff.login_refused", at=at, lane=lane, body=body, reason=exc.reason.value
            )
            log.info("badge read lane=%s refused reason=%s", lane, exc.reason)
            return StaffSession(lane, None, exc.reason.value, journal_id, at, at)
        actor = Actor(Audience(badge.role), f"badge:{badge.credential_id}")
        body = {"via": "badge", "staff": actor.by, "staff_id": badge.staff_id, "role": badge.role, "mode": mode}
        journal_id = ledger.record_event("staff.login", at=at, lane=lane, body=body, reason=badge.role)
        log.info("badge read lane=%s staff login by=%s role=%s", lane, actor.by, badge.role)
        until = at + dt.timedelta(seconds=self._engine.config.staff.session_s)
        return StaffSession(lane, actor, None, journal_id, at, until)

    async def lookup(self, lane: str, reference: str, *, by: str) -> LookupResult:
        at = self._clock()
        result: LookupResult = await self._run(lambda: self._lookup(lane, reference, at, by))
        return result

    def _lookup(self, lane: str, reference: str, at: dt.datetime, by: str) -> LookupResult:
        engine = self._engine
        outcome = engine.decide(reference, lane=lane, at=at, logged=False)
        decision = outcome.decision
        entitlement = engine.entitlement(decision.entitlement_id)
        uses = engine.ledger.uses([decision.entitlement_id]) if decision.entitlement_id else ()
        body = {"reference": outcome.reference, "verdict": decision.verdict.value, "reason": decision.reason.value,
                "staff": by}  # fmt: skip
        journal_id = engine.ledger.record_event(
            "lookup", at=at, lane=lane, body=body, entitlement_id=decision.entitlement_id, reason=decision.reason.value
        )
        log.info("lookup lane=%s entitlement=%s reason=%s by=%s", lane, decision.entitlement_id or "-",
                 decision.reason, by)  # fmt: skip
        return LookupResult(outcome, entitlement, tuple(uses[-RECENT_USES:]), journal_id)

    async def correct_occupancy(self, lane: str, count: int, *, reason: str, by: str) -> tuple[int, int, str]:
        """Set the counter to `count`: the journal keeps the change, so corrections on several
        devices add up once sync makes the counter site-wide. Returns (previous, count, journal id)."""
        at = self._clock()
        corrected: tuple[int, int, str] = await self._run(lambda: self._correct(lane, count, at, reason, by))
        return corrected

    def _correct(self, lane: str, count: int, at: dt.datetime, reason: str, by: str) -> tuple[int, int, str]:
        ledger = self._engine.ledger
        with ledger.recording():
            previous = ledger.inside()
            change = count - previous
            body = {"count": count, "previous": previous, "change": change, "reason": reason, "staff": by}
            journal_id = ledger.record_event("staff.occupancy", at=at, lane=lane, body=body, inside_change=change)
        log.info("occupancy lane=%s %d -> %d by=%s", lane, previous, count, by)
        return previous, count, journal_id
