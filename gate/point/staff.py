"""Staff at the decision point: who they are (PIN or badge login) and the acts that need no turnstile.

A PIN login reads the staff record on the point's ledger thread and checks the PIN (scrypt,
tens of milliseconds) on a worker thread, so a login never holds up a decision. A badge is
a signed credential of kind staff, checked against the ledger's staff keys, revocations and
the staff record. Either gives an `Actor` whose audience is the staff member's role.

A staff badge read at a lane's reader is a login too (`badge_read`): journaled as
`staff.login` (or `staff.login_refused`), on a closed lane as well, it opens a staff session
at that lane for `[staff] session_s`.

Wrong PINs count for the whole device, whatever staff id was typed: `[staff] pin_attempts`
in a row lock PIN entry on the device for `pin_lockout_s` (a badge still logs in). Each
refused PIN is journaled (`staff.login_refused`, via "pin", with the staff id typed and
never the digits), and so is the lock (`staff.pin_lockout`). The optional break-glass PIN
(`[staff] break_glass_pin`, typed with the staff id `break-glass`) logs in a supervisor
named `break-glass`, journaled as `staff.login` via "break_glass".

The acts here (lookup, occupancy correction) are journaled with who did them and why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
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
from gate.staff import PinLockout, pin_matches

log = logging.getLogger("gate.point")

_T = TypeVar("_T")
Run: TypeAlias = Callable[[Callable[[], _T]], Awaitable[_T]]
RECENT_USES = 10
DEVICE = "device"  # the PIN lockout's one key: every wrong PIN on the device counts together
BREAK_GLASS = "break-glass"  # the staff id typed with the break-glass PIN (never a staff record's)


class LoginRefused(GateError, PermissionError):
    """A PIN or badge that does not log anybody in; the message never says whether the id exists.

    `locked_s`: how long PIN entry stays locked on this device (0.0: not locked)."""

    def __init__(self, message: str, *, locked_s: float = 0.0) -> None:
        super().__init__(message)
        self.locked_s = locked_s


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


def _locked(seconds: float) -> str:
    return f"too many wrong PINs: PIN entry is locked for {seconds:.0f} s (a staff badge still logs in)"


class StaffDesk:
    """Logins and the staff acts that are not about a turnstile, for one decision point."""

    def __init__(self, *, engine: Engine, run: Run[Any], clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._run = run
        self._clock = clock
        limits = engine.config.staff
        self.lockout = PinLockout(attempts=limits.pin_attempts, seconds=limits.pin_lockout_s)

    def pin_locked(self) -> float:
        """Seconds PIN entry stays locked on this device (0.0: PINs may be typed)."""
        return self.lockout.remaining(DEVICE)

    async def login(self, login: PinLogin | BadgeLogin, *, lane: str | None = None) -> Actor:
        """Who logs in (LoginRefused if nobody); a refused PIN and a lock are journaled at `lane`."""
        at = self._clock()
        if isinstance(login, BadgeLogin):
            try:
                badge = await self._run(lambda: check_badge(self._engine.ledger, login.badge, at))
            except CredentialError as exc:
                log.info("badge login refused reason=%s", exc.reason)
                raise LoginRefused(f"badge refused: {exc.reason.value}") from None
            return Actor(Audience(badge.role), f"badge:{badge.credential_id}")
        if (left := self.lockout.remaining(DEVICE)) > 0:
            # Not even tried: the digits typed during a lock tell nobody anything.
            await self._journal("staff.login_refused", lane, at, {"via": "pin", "staff_id": login.staff,
                                                                   "reason": "pin_locked"}, "pin_locked")  # fmt: skip
            log.warning("pin login refused staff=%s reason=pin_locked (%.0f s left)", login.staff, left)
            raise LoginRefused(_locked(left), locked_s=left)
        glass = login.staff == BREAK_GLASS
        staff = None if glass else await self._run(lambda: self._engine.ledger.staff(login.staff))
        if glass:
            secret = self._engine.config.staff.break_glass_pin
            stored = secret.get_secret_value() if secret is not None else None
        else:
            usable = staff is not None and staff.pin is not None and staff.valid_at(at)
            stored = staff.pin if usable and staff is not None else None
        if not await asyncio.to_thread(pin_matches, stored, login.pin):
            await self._wrong_pin(login.staff, lane, at)  # raises
        self.lockout.succeeded(DEVICE)
        if glass:
            body = {"via": "break_glass", "staff": BREAK_GLASS, "role": Audience.SUPERVISOR.value}
            await self._journal("staff.login", lane, at, body, Audience.SUPERVISOR.value)
            log.warning("break-glass login: a supervisor session without a staff record")
            return Actor(Audience.SUPERVISOR, BREAK_GLASS)
        assert staff is not None
        return Actor(Audience(staff.role), f"pin:{staff.id}")

    async def _wrong_pin(self, staff_id: str, lane: str | None, at: dt.datetime) -> None:
        locked_before = self.lockout.locked(DEVICE)
        locked_for = self.lockout.failed(DEVICE)
        refused: dict[str, Any] = {"via": "pin", "staff_id": staff_id, "reason": "wrong_pin"}
        await self._journal("staff.login_refused", lane, at, refused, "wrong_pin")
        log.info("pin login refused staff=%s reason=wrong_pin", staff_id)
        if not locked_for:
            raise LoginRefused("wrong staff id or PIN")
        if not locked_before:  # this PIN started the lock (not one typed beside it while it ran)
            limits = self._engine.config.staff
            lock = {"attempts": limits.pin_attempts, "seconds": limits.pin_lockout_s, "staff_id": staff_id}
            await self._journal("staff.pin_lockout", lane, at, lock, "pin_lockout")
            log.warning("pin entry locked on this device for %.0f s after %d wrong PINs (last staff=%s)",
                        locked_for, limits.pin_attempts, staff_id)  # fmt: skip
        raise LoginRefused(_locked(locked_for), locked_s=locked_for)

    async def _journal(self, kind: str, lane: str | None, at: dt.datetime, body: dict[str, Any], reason: str) -> None:
        """A login's journal row; one the ledger cannot take is logged, and the answer stands."""
        record = functools.partial(self._engine.ledger.record_event, kind, at=at, lane=lane, body=body, reason=reason)
        try:
            await self._run(record)
        except GateError as exc:  # a storage fault, or the point stopping
            log.error("cannot journal %s: %s", kind, exc)

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
