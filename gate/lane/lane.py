"""The lane: reads in, decisions out, and the turnstile driven through the two-phase passage.

One `Lane` per daemon, an async context manager. Decisions are serialised per lane (an
asyncio.Lock around decide-and-hold); every ledger call runs on the lane's one ledger thread,
so the event loop never waits on an fsync and the Ledger is only ever used from one thread.
gpiozero input callbacks arrive on gpiozero's threads and are moved onto the loop with
`call_soon_threadsafe`. Every timeout is measured on the loop's monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from gpiozero import Factory

from gate.cache import LedgerError
from gate.config import GateConfig, TurnstileConfig
from gate.credentials import claim_of
from gate.decision import Ask, Decision
from gate.engine import Engine, Outcome, log_decision
from gate.lane import modes, patterns
from gate.lane.events import Broadcast
from gate.lane.io import InputName, TurnstileIO, make_factory
from gate.lane.model import (
    CLOSED_MODES,
    OPEN_MODES,
    DecisionRecord,
    EventKind,
    HoldReport,
    LaneEvent,
    LaneMode,
    LaneStatus,
    Outputs,
    PassageResult,
)
from gate.lane.passage import Passage, Passages, release_left_holds
from gate.lane.patterns import Signals
from gate.lane.relays import Relays
from gate.reasons import Reason, Verdict
from gate.records import Direction
from gate.scanner.read import Read

log = logging.getLogger("gate.lane")

_T = TypeVar("_T")
HISTORY = 20  # decisions and passages kept for the status


class LaneStopped(RuntimeError):
    """The lane is not running (not entered yet, or draining): it takes no reads."""


class Lane:
    """The turnstile of one lane (see docs/lane.md)."""

    def __init__(
        self,
        *,
        engine: Engine,
        lane_id: str,
        config: GateConfig,
        pin_factory: Factory | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        lane = engine.lane(lane_id)  # UnknownLane for a lane the config does not have
        if config.turnstile is None:
            raise ValueError("turnstile: the config has no [turnstile] section")
        if lane.kiosk:
            raise ValueError(f"lanes.{lane_id}.kiosk: a kiosk has no turnstile")
        for direction in config.lanes[lane_id].directions:
            if getattr(config.turnstile, direction) is None:
                raise ValueError(f"turnstile.{direction}: lane {lane_id!r} reads {direction} but has no pins for it")
        self.engine = engine
        self.lane_id = lane_id
        self.config = config
        self._cfg: TurnstileConfig = config.turnstile
        self._factory = pin_factory
        self._owns_factory = pin_factory is None
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = asyncio.Lock()
        self._staff = modes.StoredMode(LaneMode(self._cfg.first_mode), "first start", None, None)
        self._fire = False
        self._running = False
        self._decisions: deque[DecisionRecord] = deque(maxlen=HISTORY)
        self._passages_done: deque[PassageResult] = deque(maxlen=HISTORY)
        self._restart_holds: tuple[HoldReport, ...] = ()
        self._alarms = self._unexpected = self._free = 0
        self._last_edge: dict[InputName, float] = {}
        self._events = Broadcast(lane_id)
        self._executor: ThreadPoolExecutor | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._task_set: set[asyncio.Task[None]] = set()
        self._io: TurnstileIO | None = None
        self._fire_changed = asyncio.Event()

    # --- life cycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"gate-lane-{self.lane_id}")
        try:
            if self._factory is None:
                self._factory = make_factory(self._cfg.pin_factory)
            self._io = TurnstileIO(self._cfg, pin_factory=self._factory, notify=self._from_gpio, on_output=self._output)
            self._relays = Relays(self._io, pulse_s=self._cfg.pulse_ms / 1000)
            tg = asyncio.TaskGroup()
            await tg.__aenter__()
            self._tg = tg
            self._signals = Signals(self._io, self._spawn)
            self._passages = Passages(
                engine=self.engine, clock=self._clock, ledger=self._ledger, relays=self._relays,
                on_change=self._apply, on_result=self._passage_done,
            )  # fmt: skip
            stored = await self._ledger(functools.partial(modes.load_mode, self.engine.ledger, self.lane_id))
            if stored is not None:
                self._staff = stored
            left = functools.partial(release_left_holds, self.engine, self.lane_id, self._clock)
            self._restart_holds = tuple(await self._ledger(left))
            self._fire = self._io.fire_loop_open()
            self._apply()
            self._spawn(self._passages.run(), "passages")
            if self._io.fire is not None:
                self._spawn(self._watch_fire(), "fire-loop")
        except BaseException:
            await self._teardown()
            raise
        self._running = True
        log.info("lane %s: running in mode %s%s", self.lane_id, self.mode, " (fire alarm)" if self._fire else "")
        if self._fire:
            await self._journal_fire(True)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._running = False
        try:
            if exc_type is None:
                await self._drain()
        finally:
            await self._teardown(exc_type, exc, tb)

    async def _drain(self) -> None:
        """Let the passage in progress finish, for one passage timeout at most; release those waiting.

        So a stop takes at most `passage_timeout_s` (the accessible one for such a passage)
        plus the ledger writes; whoever of a party has not passed by then is released.
        """
        passages = self._passages
        if passages.busy:
            passages.release_waiting("shutdown")
            current = passages.current
            try:
                await asyncio.wait_for(passages.settled(), current.timeout if current is not None else None)
            except TimeoutError:
                passages.end("shutdown")
                await passages.settled()

    async def _teardown(
        self, exc_type: type[BaseException] | None = None, exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:  # fmt: skip
        try:
            if self._tg is not None:
                for task in list(self._task_set):
                    task.cancel()
                tg, self._tg = self._tg, None
                await tg.__aexit__(exc_type, exc, tb)
        finally:
            if hasattr(self, "_signals"):
                self._signals.stop()
            if hasattr(self, "_relays"):
                self._relays.close()
            if self._io is not None:
                self._io.close()
                self._io = None
            if self._owns_factory and self._factory is not None:
                with contextlib.suppress(Exception):
                    self._factory.close()
                self._factory = None
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        assert self._tg is not None
        task = self._tg.create_task(coro, name=f"lane-{self.lane_id}-{name}")
        self._task_set.add(task)
        task.add_done_callback(self._task_set.discard)
        return task

    @property
    def pin_factory(self) -> Factory | None:
        """The lane's gpiozero factory while it runs: mock pins are driven through it like wiring."""
        return self._factory

    @property
    def _turnstile(self) -> TurnstileIO:
        if self._io is None:
            raise LaneStopped(f"lane {self.lane_id} is not running")
        return self._io

    async def run_ledger(self, call: Callable[[], _T]) -> _T:
        """Run `call` on the lane's ledger thread, the one thread that uses the engine's Ledger
        while the lane runs (a checkpoint, a lookup for the screens): never beside a decision."""
        if self._executor is None:
            raise LaneStopped(f"lane {self.lane_id} is not running")
        return await self._loop.run_in_executor(self._executor, call)

    _ledger = run_ledger  # the name used inside the lane

    # --- reads --------------------------------------------------------------------------------

    async def handle(self, read: Read, *, party: int | None = None) -> Decision:
        """Decide one read; an admit opens the turnstile (in the background) and returns at once.
        `party`: persons asking, when someone says; none = what the entitlement allows at once."""
        if not self._running:
            raise LaneStopped(f"lane {self.lane_id} is not running")
        direction = read.direction
        if direction not in self._turnstile.directions:
            raise ValueError(f"lane {self.lane_id} has no {direction} direction")
        async with self._lock:
            mode, at = self.mode, self._clock()
            redemption = None
            if mode in CLOSED_MODES:
                decision = Decision(Verdict.DENY, Reason.LANE_CLOSED, {"mode": mode.value})
                self._signals.show(patterns.DENY)
                await self._ledger(functools.partial(self._refuse, decision, read, at))
                outcome = Outcome(decision, None)
            else:
                outcome, accessible = await self._ledger(functools.partial(self._admit, read, at, party))
                decision, redemption = outcome.decision, outcome.redemption
                if decision.admits and redemption is not None:
                    self._passages.add(self._passage(decision, redemption, direction, accessible=accessible))
                    self._signals.show(patterns.ADMIT)
                elif decision.verdict is Verdict.ATTENTION:
                    self._signals.show(patterns.ATTENTION)
                else:
                    self._signals.show(patterns.DENY)
            # Only now: the relay has pulsed and the lamps show the answer; a log line on
            # the way there would have kept the visitor waiting for it.
            log_decision(self.lane_id, outcome)
            record = DecisionRecord.of(decision, direction=direction, at=at, redemption=redemption)
            self._decisions.append(record)
            self._emit("decision", decision=record)
        return decision

    def _admit(self, read: Read, at: dt.datetime, party: int | None) -> tuple[Outcome, bool]:
        """On the ledger thread: decide and hold; and whether the entitlement is flagged accessible."""
        ask = Ask(direction=read.direction, party=party)
        outcome = self.engine.admit(read.data, lane=self.lane_id, at=at, ask=ask, logged=False)
        return outcome, outcome.decision.admits and "accessible" in outcome.flags

    def _refuse(self, decision: Decision, read: Read, at: dt.datetime) -> None:
        claim = claim_of(read.data)
        reference = claim if isinstance(claim, str) else ""  # a signed or unreadable read names no reference
        lane = self.engine.lane(self.lane_id)
        self.engine.ledger.refuse(decision, lane=lane, reference=reference, at=at, direction=read.direction)

    def _passage(self, decision: Decision, redemption: str, direction: Direction, *, accessible: bool) -> Passage:
        timeout = self._cfg.accessible_timeout_s if accessible else self._cfg.passage_timeout_s
        expected = decision.admitted + (1 if accessible else 0)
        return Passage(direction, decision.admitted, expected, timeout, redemption, decision.entitlement_id)

    # --- staff --------------------------------------------------------------------------------

    async def open_once(self, *, direction: Direction = "entry", reason: str, staff: str | None = None) -> None:
        """Let one person through without a read: journaled (durable) before the relay pulses."""
        if not self._running:
            raise LaneStopped(f"lane {self.lane_id} is not running")
        if direction not in self._turnstile.directions:
            raise ValueError(f"lane {self.lane_id} has no {direction} direction")
        async with self._lock:
            body = {"direction": direction, "reason": reason, "staff": staff, "mode": self.mode.value}
            record = functools.partial(
                self.engine.ledger.record_event, "staff.open_once", at=self._clock(), lane=self.lane_id, body=body
            )
            await self._ledger(record)
            log.info("lane %s: open once %s by %s", self.lane_id, direction, staff or "staff")
            self._passages.add(Passage(direction, 1, 1, self._cfg.passage_timeout_s, None))
            self._signals.show(patterns.ADMIT)

    async def set_mode(self, mode: LaneMode, *, reason: str = "", staff: str | None = None) -> None:
        """Set the lane's mode: journaled (staff.mode) and kept (the last mode set wins after a restart)."""
        mode = LaneMode(mode)
        async with self._lock:
            previous = self._staff.mode
            stored = modes.StoredMode(mode, reason, staff, self._clock())
            await self._ledger(functools.partial(modes.save_mode, self.engine.ledger, self.lane_id, stored,
                                                 previous=previous))  # fmt: skip
            self._staff = stored
            log.info("lane %s: mode %s -> %s by %s (%s)", self.lane_id, previous, mode, staff or "staff", reason)
            self._mode_changed()

    def _mode_changed(self) -> None:
        mode = self.mode
        if mode in CLOSED_MODES and self._running:
            self._passages.end(f"lane {mode.value}")
        self._signals.clear()
        self._apply()
        self._emit("mode", mode=mode)

    @property
    def mode(self) -> LaneMode:
        """The mode in force: emergency while the fire loop is open, else the mode staff set last."""
        return LaneMode.EMERGENCY if self._fire else self._staff.mode

    @property
    def fire_alarm(self) -> bool:
        return self._fire

    # --- inputs -------------------------------------------------------------------------------

    def _from_gpio(self, name: InputName, at: float) -> None:
        # On a gpiozero thread (or the caller's, with mock pins): hand the edge to the loop.
        with contextlib.suppress(RuntimeError):  # the loop is closing: the lane is gone
            self._loop.call_soon_threadsafe(self._input, name, at)

    def _input(self, name: InputName, at: float) -> None:
        if name == "fire":
            self._fire_changed.set()  # the watch task debounces and decides
            return
        last = self._last_edge.get(name)
        if last is not None and at - last < self._cfg.debounce_ms / 1000:
            return  # contact bounce: one edge
        self._last_edge[name] = at
        if name == "alarm":
            self._alarm()
        elif self._passages.sensor(name):
            pass
        elif self.mode in OPEN_MODES:
            self._free += 1
        else:
            self._unexpected += 1
            log.warning("lane %s: %s passage nobody was admitted for", self.lane_id, name)
            self._emit("alarm", detail=f"unexpected {name} passage")

    def _alarm(self) -> None:
        self._alarms += 1
        log.warning("lane %s: turnstile alarm (forced rotation)", self.lane_id)
        self._signals.show(patterns.ALARM)
        self._emit("alarm", detail="forced rotation")
        event = functools.partial(
            self.engine.ledger.record_event, "lane.alarm", at=self._clock(), lane=self.lane_id, body={"alarm": "forced"}
        )
        if self._tg is not None:
            self._spawn(self._journal(event), "journal-alarm")

    async def _journal(self, event: Callable[[], object]) -> None:
        try:
            await self._ledger(event)
        except LedgerError as exc:
            log.error("lane %s: cannot journal: %s", self.lane_id, exc)

    async def _watch_fire(self) -> None:
        """The fire loop: open frees every way at once; closed for fire_clear_s ends the alarm."""
        assert self._io is not None
        while True:
            self._fire_changed.clear()
            loop_open = self._io.fire_loop_open()
            if loop_open and not self._fire:
                self._set_fire(True)
                await self._journal_fire(True)
                continue
            if not loop_open and self._fire:
                try:
                    await asyncio.wait_for(self._fire_changed.wait(), self._cfg.fire_clear_s)
                except TimeoutError:
                    if not self._io.fire_loop_open():
                        self._set_fire(False)
                        await self._journal_fire(False)
                continue
            await self._fire_changed.wait()

    def _set_fire(self, alarm: bool) -> None:
        self._fire = alarm
        if alarm:
            log.warning("lane %s: FIRE ALARM: fire loop open, every direction free", self.lane_id)
            self._passages.end("fire alarm")
        else:
            log.warning("lane %s: fire alarm over: back to mode %s", self.lane_id, self._staff.mode)
        self._signals.clear()
        self._apply()
        self._emit("fire", fire=alarm)
        self._emit("mode", mode=self.mode)

    async def _journal_fire(self, alarm: bool) -> None:
        body = {"mode": self._staff.mode.value}
        kind = "fire.alarm" if alarm else "fire.clear"
        await self._journal(
            functools.partial(self.engine.ledger.record_event, kind, at=self._clock(), lane=self.lane_id, body=body)
        )

    # --- outputs and reports ------------------------------------------------------------------

    def _apply(self) -> None:
        """Outputs from the mode in force and the passage in progress."""
        mode = self.mode
        current = self._passages.current
        self._relays.hold(mode in OPEN_MODES)
        # An open-once passage lifts the lock output for its duration: staff chose to let one through.
        self._relays.lock(mode in CLOSED_MODES and not (current is not None and current.open_once))
        self._signals.steady(mode)
        self._signals.passage(current is not None)

    def _passage_done(self, result: PassageResult) -> None:
        self._passages_done.append(result)
        self._emit("passage", passage=result)

    def _output(self) -> None:
        if self._events and self._io is not None:
            self._emit("output", outputs=self._io.outputs())

    def _emit(self, kind: EventKind, **fields: Any) -> None:
        self._events.emit(kind, self._loop.time(), **fields)

    def subscribe(self) -> asyncio.Queue[LaneEvent]:
        """Every event of this lane from now on (a slow subscriber loses the oldest, not the lane)."""
        return self._events.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[LaneEvent]) -> None:
        self._events.unsubscribe(queue)

    def status(self) -> LaneStatus:
        io = self._io
        now = self._loop.time() if hasattr(self, "_loop") else 0.0
        passages = getattr(self, "_passages", None)
        return LaneStatus(
            lane=self.lane_id,
            mode=self.mode,
            staff_mode=self._staff.mode,
            mode_reason=self._staff.reason,
            fire_alarm=self._fire,
            passage=None if passages is None else passages.info(now),
            outputs=io.outputs() if io is not None else Outputs(),
            last_decisions=tuple(self._decisions),
            last_passages=tuple(self._passages_done),
            restart_holds=self._restart_holds,
            alarms=self._alarms,
            unexpected_passages=self._unexpected,
            free_passages=self._free,
        )

    async def settle(self) -> None:
        """Wait until no passage is open or waiting and each finished one is in the ledger."""
        await self._passages.settled()

