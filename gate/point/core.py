"""The decision point's core: the one road from a read to a decision and a redemption.

`PointCore` (subclassed by gate.point.point.DecisionPoint, which adds the staff acts) serves
the lanes of one process (one lane in `gate run`; a lane and a kiosk together in the demo)
on one ledger thread. It owns:

- the serialisation of decisions: one asyncio lock, so two readers cannot admit one code twice;
- the ledger thread: every call on the process's `Ledger` runs there, never on the loop and
  never beside a decision; nobody else borrows it (the daemon's checkpoint asks the point);
- the lanes' modes (the mode staff set, kept in the ledger; the fire alarm's emergency over it);
- the recent history, the events (gate.point.events) and the kiosk sessions;
- the staff badges read at a reader: a staff login, never a visitor's decision.

It knows nothing of GPIO: a lane with a turnstile plugs one in (`plug`, gate.point.device),
which the point tells about each decision; the turnstile reports passages, the fire loop and
alarms back through `commit`, `release`, `fire`, `alarm` and `emit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Literal, Self, TypeVar

from gate.background import Background
from gate.cache import LedgerError, StorageError
from gate.credentials import badge_of
from gate.decision import Ask, Decision
from gate.engine import Engine, Outcome, log_decision
from gate.point import modes
from gate.point.device import LaneDevice
from gate.point.events import (
    DecisionMade,
    Event,
    EventStream,
    FireAlarm,
    KioskStep,
    ModeChanged,
    StaffLogin,
    Subscription,
)
from gate.point.kiosk import KioskSessions, KioskView
from gate.point.model import (
    CLOSED_MODES,
    DecisionRecord,
    DeviceReport,
    LaneMode,
    LaneStatus,
    StaffOnDuty,
)
from gate.point.restart import release_left_holds
from gate.point.staff import PendingAttention, StaffDesk, StaffSession
from gate.point.state import LaneRefused, LaneState, PointStopped
from gate.point.storage import RECOVERY_TICK_S, KeptRefusal, Storage
from gate.reasons import Reason, Verdict
from gate.records import Direction
from gate.scanner.read import Read

log = logging.getLogger("gate.point")

_T = TypeVar("_T")
KIOSK_TICK_S = 0.25  # how often kiosk sessions are checked for their end


class PointCore:
    """Decides the reads of `lanes` against the engine's ledger; an async context manager."""

    def __init__(self, *, engine: Engine, lanes: Iterable[str], clock: Callable[[], dt.datetime] | None = None) -> None:
        config = engine.config
        first = LaneMode(config.turnstile.first_mode) if config.turnstile is not None else LaneMode.NORMAL
        self._engine = engine
        self.config = config
        self.tz = engine.tz
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lanes: dict[str, LaneState] = {}
        for lane_id in lanes:
            lane = engine.lane(lane_id)  # UnknownLane for a lane the config does not have
            start = LaneMode.NORMAL if lane.kiosk else first
            stored = modes.StoredMode(start, "first start", None, None)
            self._lanes[lane_id] = LaneState(lane_id, lane.kiosk, config.lanes[lane_id].directions, stored)
        self._lock = asyncio.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.events = EventStream()  # its clock, time.monotonic, is the loop's
        self._running = False
        self._stack: contextlib.AsyncExitStack | None = None
        self._writes: set[asyncio.Task[None]] = set()  # journal writes nobody waits for (fire, alarms)
        self._kiosk = KioskSessions(
            engine=engine, run=self._ledger, clock=self._clock, monotonic=self._monotonic,
            inactivity_s=config.kiosk.inactivity_s, cap_s=config.kiosk.session_cap_s,
        )  # fmt: skip
        self._desk = StaffDesk(engine=engine, run=self._ledger, clock=self._clock)
        self._storage = Storage(engine=engine, run=self._ledger, monotonic=self._monotonic)

    # --- life cycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        async with contextlib.AsyncExitStack() as stack:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="gate-ledger")
            stack.callback(self._stop_executor)
            stack.callback(self.events.close)
            for lane in self._lanes.values():
                stored = await self._ledger(functools.partial(modes.load_mode, self._engine.ledger, lane.id))
                if stored is not None:
                    lane.staff = stored
                release = functools.partial(release_left_holds, self._engine, lane.id, self._clock())
                lane.restart_holds = tuple(await self._ledger(release))
            self._tasks = await stack.enter_async_context(Background("point"))
            stack.push_async_callback(self._flush_journal)
            self._spawn_tasks()
            stack.push_async_callback(self._end_kiosk_sessions)
            self._stack = stack.pop_all()
        self._running = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._running = False
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    def _spawn_tasks(self) -> None:
        """Start the point's own tasks (a subclass adds its own): kiosk sessions end on time."""
        if any(lane.kiosk for lane in self._lanes.values()):
            self._tasks.spawn(self._kiosk_timer(), "kiosk-timer")
        self._tasks.spawn(self._storage_watch(), "storage")

    def _stop_executor(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _monotonic(self) -> float:
        return self._loop.time()

    async def _ledger(self, call: Callable[[], _T]) -> _T:
        if self._executor is None:
            raise PointStopped("the decision point is not running")
        return await self._loop.run_in_executor(self._executor, call)

    def _lane(self, lane_id: str) -> LaneState:
        try:
            return self._lanes[lane_id]
        except KeyError:
            known = ", ".join(self._lanes)
            raise LaneRefused(f"this decision point serves no lane {lane_id!r} (lanes: {known})") from None

    def _running_lane(self, lane_id: str) -> LaneState:
        if not self._running:
            raise PointStopped(f"lane {lane_id} is not running")
        return self._lane(lane_id)

    @property
    def lane_ids(self) -> tuple[str, ...]:
        return tuple(self._lanes)

    def is_kiosk(self, lane_id: str) -> bool:
        return self._lane(lane_id).kiosk

    def plug(self, lane_id: str, device: LaneDevice | None) -> None:
        """Plug a lane's device (its turnstile) in, or None to unplug it."""
        lane = self._lane(lane_id)
        if device is not None:
            if lane.kiosk:
                raise LaneRefused(f"lanes.{lane_id}.kiosk: a kiosk has no turnstile")
            if lane.device is not None:
                raise LaneRefused(f"lane {lane_id} has a device plugged in already")
            missing = [d for d in lane.directions if d not in device.directions]
            if missing:
                raise LaneRefused(f"turnstile.{missing[0]}: lane {lane_id!r} reads {missing[0]} but has no pins for it")
        lane.device = device

    # --- reads --------------------------------------------------------------------------------

    async def decide(self, read: Read, *, lane: str, party: int | None = None) -> Outcome | StaffSession:
        """Decide one read at `lane`, journaled; an admit is held and handed to the lane's device.

        `party`: persons asking, when someone says; none = what the entitlement allows at once.
        Returns once the decision is journaled and the device told (its relay pulsed), not
        after the passage. A staff badge is no visitor's code: its read is a staff login,
        journaled (on a closed lane too), which opens a staff session at the lane.
        """
        state = self._running_lane(lane)
        direction = read.direction
        badge = badge_of(read.data)
        if badge is not None:
            return await self._badge_read(state, badge)
        if state.kiosk and state.mode not in CLOSED_MODES:
            return (await self._kiosk_read(state, read))[1]  # a closed kiosk refuses lane_closed below
        if direction not in state.directions:
            raise LaneRefused(f"lane {lane} has no {direction} direction")
        async with self._lock:
            mode, at = state.mode, self._clock()
            closed = mode.value if mode in CLOSED_MODES else None
            ask = Ask(direction=direction, party=party)
            admit = functools.partial(
                self._engine.admit, read.data, lane=lane, at=at, ask=ask, logged=False, closed=closed
            )
            outcome = None
            if not state.storage:
                try:
                    outcome = await self._storage.write(admit)
                except StorageError as exc:
                    self._storage_fault(exc, at)
            if outcome is None:  # never held: refused out of order, journaled once the ledger can be written
                outcome = await self._unwritten(read.data, state, at, ask)
            if outcome.decision.verdict is Verdict.ATTENTION and outcome.decision_id is not None:
                due = self._loop.time() + self.config.staff.attention_expiry_s
                pending = PendingAttention(read.data, direction, party, outcome.decision.entitlement_id, due)
                state.attention[outcome.decision_id] = pending
            device = state.device
            if device is not None:
                if outcome.redemption is not None:
                    device.admitted(outcome, direction)
                else:
                    device.refused(outcome.decision)
            # Only now: the relay has pulsed and the lamps show the answer; a log line on
            # the way there would have kept the visitor waiting for it.
            log_decision(lane, outcome)
            self._decided(state, outcome, direction, at)
        return outcome

    async def _unwritten(self, read: str | bytes, state: LaneState, at: dt.datetime, ask: Ask) -> Outcome:
        decide = functools.partial(self._engine.decide, read, lane=state.id, at=at, ask=ask, logged=False,
                                   closed=LaneMode.OUT_OF_ORDER.value)  # fmt: skip
        try:
            outcome = await self._ledger(decide)
        except LedgerError:  # not even readable: refused all the same
            outcome = Outcome(Decision(Verdict.DENY, Reason.LANE_CLOSED, {"mode": LaneMode.OUT_OF_ORDER.value}), None)
        self._storage.keep(KeptRefusal(outcome, state.id, at, ask.direction))
        return outcome

    def _storage_fault(self, exc: StorageError, at: dt.datetime, *, damaged: bool = False) -> None:
        if self._storage.enter(exc, at, damaged=damaged):
            self._lanes_changed(True, "storage fault")

    def ledger_damaged(self, detail: str) -> None:
        """The ledger has corrupt pages (the daemon's quick_check): out of order until a restore."""
        self._storage_fault(StorageError(detail), self._clock(), damaged=True)

    def _lanes_changed(self, storage: bool, reason: str) -> None:
        for lane in self._lanes.values():
            lane.storage = storage
            if lane.device is not None:
                lane.device.mode_changed(lane.mode)
            self.emit(ModeChanged(lane=lane.id, monotonic=self._loop.time(), mode=lane.mode,
                                  staff_mode=lane.staff.mode, reason=reason, by=None))  # fmt: skip

    async def _storage_watch(self) -> None:
        while True:
            await asyncio.sleep(RECOVERY_TICK_S)
            if self._storage.fault is not None:
                async with self._lock:
                    if await self._storage.recover(self._clock()):
                        self._lanes_changed(False, "storage fault over")

    async def check_storage(self) -> str | None:
        """None when the ledger is writable (a recent write, or a probe), else the storage fault."""
        if self._storage.fault is None:
            try:
                await self._storage.probe()
            except StorageError as exc:
                self._storage_fault(exc, self._clock())
        storage = self._storage
        if storage.fault is None:
            return None
        return (f"storage fault since {storage.since}: {storage.fault}; out of order, retrying "
                f"({len(storage.deferred)} write(s) and {len(storage.refusals)} refusal(s) kept)")  # fmt: skip

    async def _badge_read(self, state: LaneState, text: str) -> StaffSession:
        session = await self._desk.badge_read(state.id, text, mode=state.mode.value)
        if session.actor is not None:
            state.staff_session = session
        self.emit(StaffLogin(lane=state.id, monotonic=self._loop.time(), session=session))
        return session

    def staff_session(self, lane_id: str) -> StaffSession | None:
        """The staff session a badge read opened at the lane, while it lasts."""
        lane = self._lane(lane_id)
        session = lane.staff_session
        if session is not None and self._clock() >= session.until:
            lane.staff_session = session = None
        return session

    def _decided(self, state: LaneState, outcome: Outcome, direction: Direction, at: dt.datetime) -> None:
        decision = outcome.decision
        state.decisions.append(
            DecisionRecord.of(
                decision, direction=direction, at=at, redemption=outcome.redemption, decision_id=outcome.decision_id
            )
        )
        if self.events:
            self.events.emit(DecisionMade(
                lane=state.id, monotonic=self._loop.time(), at=at, direction=direction, decision=decision,
                decision_id=outcome.decision_id, redemption=outcome.redemption, reference=outcome.reference,
                language=outcome.language,
            ))  # fmt: skip

    # --- kiosk sessions (gate.point.kiosk) ----------------------------------------------------------

    async def kiosk_read(self, read: Read, *, lane: str, typed: bool = False) -> KioskView:
        """A code read at a kiosk: the session it opened (or joined), with what the code can do here.
        `typed`: typed in on the kiosk's screen (a voucher's code only, else KioskError)."""
        return (await self._kiosk_read(self._running_lane(lane), read, typed=typed))[0]

    async def _kiosk_read(self, state: LaneState, read: Read, *, typed: bool = False) -> tuple[KioskView, Outcome]:
        if state.mode in CLOSED_MODES:
            raise LaneRefused(f"kiosk {state.id} is {state.mode.value}")
        async with self._lock:
            at = self._clock()
            view, outcome, opened = await self._kiosk.read(read.data, lane=state.id, typed=typed)
            log_decision(state.id, outcome)
            self._decided(state, outcome, read.direction, at)
            self._kiosk_step(view, "opened" if opened else "joined")
        return view, outcome

    async def kiosk_choose(
        self, lane: str, session: str, *, performance: str | None = None, items: tuple[str, ...] = ()
    ) -> KioskView:
        """Hold the session's codes for a performance or items (refused: nothing held, `view.refused` says why)."""
        choose = functools.partial(self._kiosk.choose, performance=performance, items=items)
        return await self._kiosk_act(lane, session, "held", choose)

    async def kiosk_confirm(self, lane: str, session: str) -> KioskView:
        """Commit what the session holds (durable before it returns); the session ends."""
        return await self._kiosk_act(lane, session, "confirmed", self._kiosk.confirm)

    async def kiosk_cancel(self, lane: str, session: str) -> KioskView:
        return await self._kiosk_act(lane, session, "cancelled", self._kiosk.cancel)

    async def kiosk_touch(self, lane: str, session: str) -> KioskView:
        """More time for the session (its inactivity timer starts again; the hard cap stays)."""
        return await self._kiosk_act(lane, session, "touched", self._kiosk.touch)

    async def _kiosk_act(
        self, lane: str, session: str, step: str, act: Callable[..., Awaitable[KioskView]]
    ) -> KioskView:
        self._running_lane(lane)
        async with self._lock:
            view = await act(lane=lane, session_id=session)
            self._kiosk_step(view, "refused" if view.refused is not None else step)
        return view

    def kiosk_session(self, lane: str) -> KioskView | None:
        """The kiosk's open session, if any."""
        session = self._kiosk.current(lane)
        return None if session is None else self._kiosk.view(session)

    def _kiosk_step(self, view: KioskView, step: str) -> None:
        self.emit(KioskStep(lane=view.lane, monotonic=self._loop.time(), step=step, view=view))

    async def _kiosk_timer(self) -> None:
        while True:
            await asyncio.sleep(KIOSK_TICK_S)
            for session in self._kiosk.due():
                async with self._lock:
                    if session not in self._kiosk.due():
                        continue  # confirmed, cancelled or touched while the lock was taken
                    try:
                        await self._kiosk.end(session, "expired")
                    except LedgerError as exc:
                        log.error("kiosk %s: session %s cannot release its holds: %s", session.lane, session.id, exc)
                        continue
                    self._kiosk_step(self._kiosk.view(session), "expired")

    async def _end_kiosk_sessions(self) -> None:
        """At shutdown: an open session's holds are released, as its timer would have."""
        for lane in self._lanes.values():
            session = self._kiosk.current(lane.id) if lane.kiosk else None
            if session is not None:
                with contextlib.suppress(LedgerError, PointStopped):
                    await self._kiosk.end(session, "cancelled")

    # --- what a device reports ----------------------------------------------------------------

    async def commit(self, redemption: str, *, passed: int | None = None) -> None:
        """The persons of a held redemption went through: durable before it returns (LedgerError if not).

        In a storage fault the commit is kept and written once the ledger can be.
        """
        at = self._clock()
        await self._write_or_keep(f"commit of {redemption}", lambda: self._engine.commit(redemption, at=at,
                                                                                         passed=passed))  # fmt: skip

    async def release(self, redemption: str, *, why: str) -> None:
        """Nobody went through: nothing consumed (LedgerError if the ledger cannot say so yet)."""
        at = self._clock()
        await self._write_or_keep(f"release of {redemption}", lambda: self._engine.release(redemption, at=at, why=why))

    async def _write_or_keep(self, what: str, call: Callable[[], object]) -> None:
        if not self._storage.fault:
            try:
                await self._storage.write(call)
                return
            except StorageError as exc:
                self._storage_fault(exc, self._clock())
        self._storage.defer(what, call)

    def fire(self, lane_id: str, alarm: bool) -> None:
        """The fire loop opened (every way free, mode emergency) or the alarm is over.

        In force at once; journaled in the background (the device has opened its relays first).
        """
        lane = self._lane(lane_id)
        lane.emergency = alarm
        if alarm:
            log.warning("lane %s: FIRE ALARM: fire loop open, every direction free", lane_id)
        else:
            log.warning("lane %s: fire alarm over: back to mode %s", lane_id, lane.staff.mode)
        now = self._loop.time()
        self.emit(FireAlarm(lane=lane_id, monotonic=now, alarm=alarm))
        self.emit(ModeChanged(lane=lane_id, monotonic=now, mode=lane.mode, staff_mode=lane.staff.mode,
                              reason="fire alarm" if alarm else "fire alarm over", by=None))  # fmt: skip
        kind = "fire.alarm" if alarm else "fire.clear"
        self._journal_later(kind, lane_id, {"mode": lane.staff.mode.value})

    def alarm(self, lane_id: str, body: dict[str, str]) -> None:
        """Journal a turnstile alarm (a forced rotation) in the background; the device has said so."""
        self._journal_later("lane.alarm", lane_id, body)

    def _journal_later(self, kind: str, lane_id: str, body: dict[str, str]) -> None:
        task = self._tasks.spawn(self._journal(kind, lane_id, body), f"journal-{kind}")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _flush_journal(self) -> None:
        """At shutdown: the background journal writes finish before the ledger thread stops."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _journal(self, kind: str, lane_id: str, body: dict[str, str]) -> None:
        at = self._clock()
        record = functools.partial(self._engine.ledger.record_event, kind, at=at, lane=lane_id, body=body)
        try:
            await self._write_or_keep(f"{kind} at lane {lane_id}", record)
        except LedgerError as exc:
            log.error("lane %s: cannot journal %s: %s", lane_id, kind, exc)

    def emit(self, event: Event) -> None:
        """Tell the subscribers (a device's passage steps and outputs come this way)."""
        if self.events:
            self.events.emit(event)

    @property
    def listening(self) -> bool:
        """Whether anyone subscribes: an emitter builds no event when nobody would read it."""
        return bool(self.events)

    def subscribe(self, size: int | None = None) -> Subscription:
        """Every event from now on, as an async iterator (`async with point.subscribe() as events`)."""
        return self.events.subscribe() if size is None else self.events.subscribe(size)

    # --- modes ------------------------------------------------------------------------------------

    def mode(self, lane_id: str) -> LaneMode:
        """The mode in force: emergency while the fire loop is open, else the mode staff set last."""
        return self._lane(lane_id).mode

    def staff_mode(self, lane_id: str) -> LaneMode:
        """The mode staff set last: in force again once a fire alarm is over."""
        return self._lane(lane_id).staff.mode

    def fire_alarm(self, lane_id: str) -> bool:
        return self._lane(lane_id).emergency

    # --- the daemon's housekeeping ------------------------------------------------------------------

    async def checkpoint(self) -> bool:
        """Copy the WAL into the ledger file (cheap unless due), on the ledger thread."""
        return await self._ledger(self._engine.ledger.checkpoint)

    async def settle(self, lane_id: str) -> None:
        """Wait until the lane's device has no passage open or waiting, each finished one in the ledger."""
        device = self._lane(lane_id).device
        if device is not None:
            await device.settle()

    def status(self, lane_id: str) -> LaneStatus:
        lane = self._lane(lane_id)
        report = lane.device.report() if lane.device is not None else DeviceReport()
        kind: Literal["turnstile", "kiosk"] = "kiosk" if lane.kiosk else "turnstile"
        session = self.staff_session(lane_id)
        actor = session.actor if session is not None else None
        on_duty = StaffOnDuty(actor.by, actor.audience.value, session.until) if actor and session else None
        return LaneStatus(
            lane=lane_id, kind=kind, mode=lane.mode, staff_mode=lane.staff.mode, mode_reason=lane.staff.reason,
            mode_cause=lane.cause, storage_fault=self._storage.fault,
            fire_alarm=lane.emergency, last_decisions=tuple(lane.decisions), restart_holds=lane.restart_holds,
            passage=report.passage, outputs=report.outputs, last_passages=report.last_passages,
            alarms=report.alarms, unexpected_passages=report.unexpected_passages, free_passages=report.free_passages,
            attention=tuple(lane.attention), staff_session=on_duty,
        )  # fmt: skip
