"""The decision point: the core's road from a read to a decision, and the staff acts on it.

`DecisionPoint` is what a daemon, the demo and the screens hold. The core (gate.point.core)
decides reads, runs kiosk sessions and reports the lanes; here are the acts staff do at a
lane, each journaled with who did it, why and what it acted on (docs/lane.md, "Staff acts"):
open once, the lane's mode, look a code up, correct the occupancy, override a refusal,
confirm an attention verdict and void a redemption. The engine does the ledger's part of the
last three (gate.acts); the point adds the turnstile, the lane's history and the events.

An attention verdict (ID check, child) waits here for staff until `[staff]
attention_expiry_s`: then it expires, journaled. A later read at the lane does not cancel it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time

from gate import acts
from gate.acts import ActRefused, NeedsConfirmation
from gate.cache import LedgerError
from gate.cache.voids import Voided
from gate.credentials import badge_of
from gate.decision import Ask
from gate.engine import Outcome, log_decision
from gate.point import modes
from gate.point.commands import Actor, BadgeLogin, PinLogin
from gate.point.core import PointCore
from gate.point.events import ClockTrust, ModeChanged, StaffAct, StaffCalled, SyncState
from gate.point.kiosk import KioskError
from gate.point.model import LaneMode
from gate.point.restart import RESTART_WHY
from gate.point.staff import LoginRefused, LookupResult, StaffSession
from gate.point.state import LaneRefused, LaneState, PointStopped
from gate.records import Direction
from gate.scanner.read import Read

log = logging.getLogger("gate.point")

ATTENTION_TICK_S = 1.0  # how often pending attention verdicts are checked for their expiry

__all__ = [
    "RESTART_WHY", "ActRefused", "DecisionPoint", "KioskError", "LaneRefused", "LoginRefused", "NeedsConfirmation",
    "PointStopped", "StaffSession",
]  # fmt: skip


class DecisionPoint(PointCore):
    """Decides the reads of its lanes and does the staff acts on them; an async context manager."""

    sync: SyncState | None = None  # the device's sync process, as last read (none: no sync here)

    def _spawn_tasks(self) -> None:
        super()._spawn_tasks()
        self._tasks.spawn(self._attention_timer(), "attention-timer")

    async def open_once(self, lane_id: str, *, direction: Direction = "entry", reason: str, by: str) -> str:
        """Let one person through without a read: journaled (durable) before the device lets them."""
        lane = self._running_lane(lane_id)
        device = lane.device
        if device is None:
            raise LaneRefused(f"lane {lane_id} has no turnstile to open")
        if direction not in lane.directions:
            raise LaneRefused(f"lane {lane_id} has no {direction} direction")
        async with self._lock:
            body = {"direction": direction, "reason": reason, "staff": by, "mode": lane.mode.value}
            record = functools.partial(
                self._engine.ledger.record_event, "staff.open_once", at=self._clock(), lane=lane_id, body=body
            )
            journal_id = await self._ledger(record)
            log.info("lane %s: open once %s by %s", lane_id, direction, by)
            device.let_one_through(direction)
            self.emit(StaffAct(lane=lane_id, monotonic=self._loop.time(), act="staff.open_once", by=by,
                               reason=reason, journal_id=journal_id))  # fmt: skip
        return journal_id

    async def set_mode(self, lane_id: str, mode: LaneMode, *, reason: str = "", by: str | None = None) -> None:
        """Set the lane's mode: journaled (staff.mode) and kept (the last mode set wins after a restart)."""
        mode = LaneMode(mode)
        lane = self._running_lane(lane_id)
        async with self._lock:
            previous = lane.staff.mode
            stored = modes.StoredMode(mode, reason, by, self._clock())
            save = functools.partial(modes.save_mode, self._engine.ledger, lane_id, stored, previous=previous)
            await self._ledger(save)
            lane.staff = stored
            log.info("lane %s: mode %s -> %s by %s (%s)", lane_id, previous, mode, by or "staff", reason)
            if lane.device is not None:
                lane.device.mode_changed(lane.mode)
            self.emit(ModeChanged(lane=lane_id, monotonic=self._loop.time(), mode=lane.mode, staff_mode=mode,
                                  reason=reason, by=by))  # fmt: skip

    def call_staff(self, lane_id: str, *, via: str) -> None:
        """A visitor asks for staff at the lane: a `StaffCalled` event for the consoles and the
        amber lamp where wired, at once; journaled (staff.called) in the background, kept through
        a storage fault like a fire alarm's row."""
        lane = self._running_lane(lane_id)
        log.info("lane %s: staff called via %s", lane_id, via)
        if lane.device is not None:
            lane.device.staff_called()
        self.emit(StaffCalled(lane=lane_id, monotonic=self._loop.time(), via=via))
        self._journal_later("staff.called", lane_id, {"via": via, "mode": lane.mode.value})

    async def login(self, login: PinLogin | BadgeLogin, *, lane: str | None = None) -> Actor:
        """Who a PIN or a staff badge logs in (LoginRefused if nobody); the PIN check never holds up a decision.

        A refused PIN is journaled at `lane` (default: the point's only lane), whoever asked:
        the console or the control socket. Wrong PINs lock PIN entry on the whole device."""
        if lane is None and len(self._lanes) == 1:
            lane = next(iter(self._lanes))
        return await self._desk.login(login, lane=lane)

    def pin_locked(self) -> float:
        """Seconds PIN entry stays locked on this device after too many wrong PINs (0.0: open)."""
        return self._desk.pin_locked()

    async def typed(self, lane_id: str, reference: str, *, direction: Direction = "entry", by: str) -> Outcome:
        """A code staff type for a visitor whose code cannot be read: decided as a read at the lane,
        the same road (mode, storage, attention, the turnstile), then journaled as `staff.typed`
        naming that decision and who typed it."""
        lane = self._running_lane(lane_id)
        if lane.kiosk:
            raise LaneRefused(f"lane {lane_id} is a kiosk: a code is typed on the kiosk's own screen")
        if badge_of(reference) is not None:
            raise ActRefused("a staff badge logs in at a reader; it is never typed as a visitor's code")
        outcome = await self.decide(Read(reference, None, "typed", direction), lane=lane_id)
        if not isinstance(outcome, Outcome):  # decide() reads a badge as a login; none is typed (above)
            raise ActRefused("a staff badge is never typed")
        decision = outcome.decision
        body = {"decision": outcome.decision_id, "reference": outcome.reference, "direction": direction, "staff": by,
                "verdict": decision.verdict.value, "redemption": outcome.redemption}  # fmt: skip
        record = functools.partial(
            self._engine.ledger.record_event, "staff.typed", at=self._clock(), lane=lane_id,
            entitlement_id=decision.entitlement_id, reason=decision.reason.value, body=body,
        )  # fmt: skip
        written: list[str] = []
        # In a storage fault the row is kept and written with the lane's other kept writes.
        await self._write_or_keep(f"staff.typed at lane {lane_id}", lambda: written.append(record()))
        log.info("lane %s: typed reference decided %s %s by %s", lane_id, decision.verdict, decision.reason, by)
        self._act(lane_id, "staff.typed", by, "", written[0] if written else "", outcome.decision_id)
        return outcome

    async def lookup(self, lane_id: str, reference: str, *, by: str) -> LookupResult:
        """A code's status, validity, balance and recent uses: consumes nothing, journaled as a lookup."""
        self._running_lane(lane_id)
        result = await self._desk.lookup(lane_id, reference, by=by)
        self.emit(StaffAct(lane=lane_id, monotonic=self._loop.time(), act="lookup", by=by, reason="",
                           journal_id=result.journal_id, target=result.outcome.decision.entitlement_id))  # fmt: skip
        return result

    async def correct_occupancy(self, lane_id: str, count: int, *, reason: str, by: str) -> tuple[int, int]:
        """Set the occupancy counter to what staff count; journaled as the change. Returns (previous, now)."""
        self._running_lane(lane_id)
        async with self._lock:
            previous, now, journal_id = await self._desk.correct_occupancy(lane_id, count, reason=reason, by=by)
        self.emit(StaffAct(lane=lane_id, monotonic=self._loop.time(), act="staff.occupancy", by=by, reason=reason,
                           journal_id=journal_id))  # fmt: skip
        return previous, now

    # --- overrides, confirmations, voids (gate.acts) -----------------------------------------

    async def override(self, lane_id: str, decision_id: str, *, reason: str, by: str, confirm: bool = False) -> Outcome:
        """Admit what refusal `decision_id` refused at this lane: held, and the turnstile opens.

        ActRefused (NeedsConfirmation for an entitlement admitted here a short while ago,
        until `confirm`) when it cannot be done; nothing is then journaled.
        """
        lane = self._turnstile_lane(lane_id)
        async with self._lock:
            at = self._clock()
            act = functools.partial(
                acts.override, self._engine, decision_id, lane=lane_id, at=at, by=by, why=reason, confirm=confirm
            )
            outcome, journal_id = await self._ledger(act)
            direction = await self._admitted(lane, outcome, at)
        self._act(lane_id, acts.OVERRIDE, by, reason, journal_id, decision_id)
        log.info("lane %s: override of %s (%s) by %s", lane_id, decision_id, direction, by)
        return outcome

    async def confirm_attention(self, lane_id: str, decision_id: str, *, reason: str, by: str) -> Outcome:
        """Staff did the attention check of `decision_id`: the read is decided again, and an admit held.

        The new decision may refuse (uses changed since the verdict): staff see why and may override it.
        """
        lane = self._turnstile_lane(lane_id)
        async with self._lock:
            pending = lane.attention.pop(decision_id, None)
            if pending is None:
                raise ActRefused(f"no attention verdict {decision_id} waits at lane {lane_id} (confirmed or expired)")
            at = self._clock()
            ask = Ask(direction=pending.direction, party=pending.party)
            act = functools.partial(
                acts.confirm, self._engine, pending.read, decision_id=decision_id, lane=lane_id, at=at, ask=ask,
                by=by, why=reason,
            )  # fmt: skip
            try:
                outcome, journal_id = await self._ledger(act)
            except BaseException:
                lane.attention[decision_id] = pending  # nothing was journaled: it still waits
                raise
            await self._admitted(lane, outcome, at)
        self._act(lane_id, acts.CONFIRM, by, reason, journal_id, decision_id)
        return outcome

    async def void(self, lane_id: str, redemption_id: str, *, reason: str, by: str) -> Voided:
        """Give a committed redemption's uses back (ActRefused when it cannot be voided)."""
        self._running_lane(lane_id)
        async with self._lock:
            act = functools.partial(acts.void, self._engine, redemption_id, at=self._clock(), by=by, why=reason)
            voided = await self._ledger(act)
        self._act(lane_id, acts.VOID, by, reason, voided.journal_id, redemption_id)
        return voided

    def _turnstile_lane(self, lane_id: str) -> LaneState:
        lane = self._running_lane(lane_id)
        if lane.kiosk or lane.device is None:
            raise LaneRefused(f"lane {lane_id} has no turnstile to open")
        return lane

    async def _admitted(self, lane: LaneState, outcome: Outcome, at: dt.datetime) -> Direction:
        """Hand a staff act's decision to the lane's device and history, as a read's would be."""
        decision = outcome.decision
        direction: Direction = decision.plan[0].direction if decision.plan else "entry"
        device = lane.device
        if device is not None:
            if outcome.redemption is not None:
                device.admitted(outcome, direction)
            else:
                device.refused(decision)
        log_decision(lane.id, outcome)
        self._decided(lane, outcome, direction, at)
        return direction

    def _act(self, lane_id: str, act: str, by: str, reason: str, journal_id: str, target: str | None) -> None:  # noqa: PLR0917
        self.emit(StaffAct(lane=lane_id, monotonic=self._loop.time(), act=act, by=by, reason=reason,
                           journal_id=journal_id, target=target))  # fmt: skip

    async def settings(self, keys: tuple[str, ...]) -> dict[str, str | None]:
        """Device settings of the ledger (on its thread): what another process wrote (sync's state)."""
        ledger = self._engine.ledger

        def read() -> dict[str, str | None]:
            with ledger.snapshot():  # one read transaction for them all
                return {key: ledger.setting(key) for key in keys}

        return await self._ledger(read)

    async def sync_marks(self, decision_ids: list[str]) -> dict[str, str]:
        """Each decision's state with the hub (confirmed, offline, waiting), for the staff console."""
        outbox = self._engine.ledger.outbox()
        marks: dict[str, str] = await self._ledger(lambda: outbox.marks(decision_ids))
        return marks

    def sync_changed(self, state: SyncState) -> None:
        """The daemon read a new sync state: kept for the screens that connect later, and told.
        A link down since `since` puts the lanes under the offline policy ([sync.offline])."""
        self.sync = state
        since = None
        if state.link != "up":
            try:
                since = dt.datetime.fromisoformat(state.since).timestamp()
            except ValueError:
                since = time.time()
        self._engine.offline_since = since
        self.emit(state)

    def clock_changed(self, trust: ClockTrust) -> None:
        """The daemon's clock gained or lost trust: decisions from now on carry it (the hub
        orders uses by time only where the clocks were trusted), and the screens are told."""
        self._engine.clock_untrusted = not trust.trusted
        if self.listening:
            self.emit(trust)

    def pending_attention(self, lane_id: str) -> tuple[str, ...]:
        """Ids of the attention verdicts waiting for staff at the lane, oldest first."""
        return tuple(self._lane(lane_id).attention)

    async def _attention_timer(self) -> None:
        while True:
            await asyncio.sleep(ATTENTION_TICK_S)
            now = self._loop.time()
            for lane in self._lanes.values():
                for decision_id, pending in list(lane.attention.items()):
                    if pending.due > now or lane.attention.get(decision_id) is not pending:
                        continue
                    del lane.attention[decision_id]
                    body = {"decision": decision_id, "entitlement_id": pending.entitlement_id}
                    record = functools.partial(
                        self._engine.ledger.record_event, "attention.expired", at=self._clock(), lane=lane.id,
                        entitlement_id=pending.entitlement_id, body=body,
                    )  # fmt: skip
                    try:
                        journal_id = await self._ledger(record)
                    except (LedgerError, PointStopped) as exc:
                        log.error("lane %s: cannot journal the expiry of attention %s: %s", lane.id, decision_id, exc)
                        continue
                    log.info("lane %s: attention %s expired unconfirmed", lane.id, decision_id)
                    self._act(lane.id, "attention.expired", "", "not confirmed in time", journal_id, decision_id)
