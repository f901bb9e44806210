"""The turnstile: the optional GPIO part a lane plugs into its decision point.

It knows GPIO, not the ledger. The decision point tells it about each decision
(gate.point.device.LaneDevice); it pulses the unlock relay, counts the passage sensor, and
reports back through the point's public API: `commit` or `release` after the two-phase
passage, `fire` when the fire loop opens or closes, `alarm` for a forced rotation, `emit`
for each passage step and output change. gpiozero input callbacks arrive on gpiozero's
threads and are moved onto the loop with `call_soon_threadsafe`. Every timeout is measured
on the loop's monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self

from gpiozero import Factory

from gate.background import Background
from gate.config_turnstile import TurnstileConfig
from gate.decision import Decision
from gate.engine import Outcome
from gate.point import DecisionPoint
from gate.point.events import OutputsChanged, PassageStep, PassageStepName, TurnstileAlarm
from gate.point.model import CLOSED_MODES, OPEN_MODES, DeviceReport, LaneMode, PassageResult
from gate.reasons import Verdict
from gate.records import Direction
from gate.turnstile import patterns
from gate.turnstile.io import InputName, TurnstileIO, make_factory
from gate.turnstile.passage import Passage, Passages
from gate.turnstile.patterns import Signals
from gate.turnstile.relays import Relays

log = logging.getLogger("gate.turnstile")

HISTORY = 20  # passages kept for the status


class Turnstile:
    """The turnstile of one lane (see docs/lane.md); an async context manager that plugs itself in."""

    def __init__(
        self, *, point: DecisionPoint, lane_id: str, config: TurnstileConfig, pin_factory: Factory | None = None
    ) -> None:
        self._point = point
        self.lane_id = lane_id
        self._cfg = config
        self._factory = pin_factory
        self._fire = False
        self._passages_done: deque[PassageResult] = deque(maxlen=HISTORY)
        self._alarms = self._unexpected = self._free = 0
        self._last_edge: dict[InputName, float] = {}
        self._fire_changed = asyncio.Event()
        self._io: TurnstileIO | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    # --- life cycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        async with contextlib.AsyncExitStack() as stack:
            if self._factory is None:
                self._factory = make_factory(self._cfg.pin_factory)
                stack.callback(self._close_factory)
            self._io = io = TurnstileIO(self._cfg, pin_factory=self._factory, notify=self._from_gpio,
                                        on_output=self._output)  # fmt: skip
            stack.callback(self._close_io)
            self._relays = Relays(io, pulse_s=self._cfg.pulse_ms / 1000)
            stack.callback(self._relays.close)
            # Plugged in before any task starts: a lane this wiring cannot serve fails plainly.
            self._point.plug(self.lane_id, self)
            stack.callback(self._point.plug, self.lane_id, None)
            self._tasks = await stack.enter_async_context(Background(f"turnstile-{self.lane_id}"))
            self._signals = Signals(io, self._spawn)
            stack.callback(self._signals.stop)
            self._passages = Passages(
                commit=self._commit, release=self._release, relays=self._relays, on_change=self._apply,
                on_step=self._step,
            )  # fmt: skip
            self._spawn(self._passages.run(), "passages")
            self._fire = io.fire_loop_open()
            self._apply()
            if io.fire is not None:
                self._spawn(self._watch_fire(), "fire-loop")
            if self._fire:
                self._point.fire(self.lane_id, True)
            self._stack = stack.pop_all()
        log.info("turnstile %s: ready, mode %s%s", self.lane_id, self.mode, " (fire alarm)" if self._fire else "")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        try:
            if exc_type is None:
                await self._drain()
        finally:
            if stack is not None:
                await stack.__aexit__(exc_type, exc, tb)

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

    def _close_io(self) -> None:
        if self._io is not None:
            self._io.close()
            self._io = None

    def _close_factory(self) -> None:
        if self._factory is not None:
            with contextlib.suppress(Exception):
                self._factory.close()
            self._factory = None

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return self._tasks.spawn(coro, name)

    @property
    def pin_factory(self) -> Factory | None:
        """The gpiozero factory while the turnstile runs: mock pins are driven through it like wiring."""
        return self._factory

    @property
    def config(self) -> TurnstileConfig:
        return self._cfg

    @property
    def mode(self) -> LaneMode:
        """The mode in force: emergency while the fire loop is open, else the lane's."""
        return LaneMode.EMERGENCY if self._fire else self._point.staff_mode(self.lane_id)

    # --- what the decision point tells it (gate.point.device.LaneDevice) ----------------------

    @property
    def directions(self) -> tuple[Direction, ...]:
        return self._io.directions if self._io is not None else ()

    def admitted(self, outcome: Outcome, direction: Direction) -> None:
        decision, redemption = outcome.decision, outcome.redemption
        assert redemption is not None
        accessible = "accessible" in outcome.flags
        timeout = self._cfg.accessible_timeout_s if accessible else self._cfg.passage_timeout_s
        expected = decision.admitted + (1 if accessible else 0)
        self._passages.add(
            Passage(direction, decision.admitted, expected, timeout, redemption, decision.entitlement_id)
        )
        self._signals.show(patterns.ADMIT)

    def refused(self, decision: Decision) -> None:
        self._signals.show(patterns.ATTENTION if decision.verdict is Verdict.ATTENTION else patterns.DENY)

    def staff_called(self) -> None:
        self._signals.show(patterns.CALL_STAFF)

    def let_one_through(self, direction: Direction) -> None:
        self._passages.add(Passage(direction, 1, 1, self._cfg.passage_timeout_s, None))
        self._signals.show(patterns.ADMIT)

    def mode_changed(self, mode: LaneMode) -> None:
        mode = self.mode  # the fire alarm stays over any mode staff set
        if mode in CLOSED_MODES:
            self._passages.end(f"lane {mode.value}")
        self._signals.clear()
        self._apply()

    def report(self) -> DeviceReport:
        io = self._io
        return DeviceReport(
            passage=self._passages.info(self._loop.time()) if io is not None else None,
            outputs=io.outputs() if io is not None else DeviceReport().outputs,
            last_passages=tuple(self._passages_done),
            alarms=self._alarms,
            unexpected_passages=self._unexpected,
            free_passages=self._free,
        )

    async def settle(self) -> None:
        """Wait until no passage is open or waiting and each finished one is in the ledger."""
        await self._passages.settled()

    # --- passages ---------------------------------------------------------------------------------

    async def _commit(self, redemption: str, passed: int) -> None:
        await self._point.commit(redemption, passed=passed)

    async def _release(self, redemption: str, why: str) -> None:
        await self._point.release(redemption, why=why)

    def _step(self, step: PassageStepName, p: Passage, result: PassageResult | None) -> None:
        if result is not None:
            self._passages_done.append(result)
        if self._point.listening:
            self._point.emit(PassageStep(
                lane=self.lane_id, monotonic=self._loop.time(), step=step, direction=p.direction,
                redemption=p.redemption, entitlement_id=p.entitlement_id, passed=p.passed, expected=p.expected,
                result=result,
            ))  # fmt: skip

    # --- inputs -------------------------------------------------------------------------------

    def _from_gpio(self, name: InputName, at: float) -> None:
        # On a gpiozero thread (or the caller's, with mock pins): hand the edge to the loop.
        with contextlib.suppress(RuntimeError):  # the loop is closing: the turnstile is gone
            self._loop.call_soon_threadsafe(self._input, name, at)

    def _input(self, name: InputName, at: float) -> None:
        if self._io is None:
            return  # an edge that crossed the shutdown
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
            self._say_alarm(f"unexpected {name} passage")

    def _alarm(self) -> None:
        self._alarms += 1
        log.warning("lane %s: turnstile alarm (forced rotation)", self.lane_id)
        self._signals.show(patterns.ALARM)
        self._say_alarm("forced rotation")
        self._point.alarm(self.lane_id, {"alarm": "forced"})

    def _say_alarm(self, detail: str) -> None:
        self._point.emit(TurnstileAlarm(lane=self.lane_id, monotonic=self._loop.time(), detail=detail))

    async def _watch_fire(self) -> None:
        """The fire loop: open frees every way at once; closed for fire_clear_s ends the alarm."""
        assert self._io is not None
        while True:
            self._fire_changed.clear()
            loop_open = self._io.fire_loop_open()
            if loop_open and not self._fire:
                self._set_fire(True)
                continue
            if not loop_open and self._fire:
                try:
                    await asyncio.wait_for(self._fire_changed.wait(), self._cfg.fire_clear_s)
                except TimeoutError:
                    if not self._io.fire_loop_open():
                        self._set_fire(False)
                continue
            await self._fire_changed.wait()

    def _set_fire(self, alarm: bool) -> None:
        # The point journals in the background: the relays never wait for a write.
        self._fire = alarm
        if alarm:
            self._passages.end("fire alarm")
        self._signals.clear()
        self._apply()
        self._point.fire(self.lane_id, alarm)

    # --- outputs ------------------------------------------------------------------------------

    def _apply(self) -> None:
        """Outputs from the mode in force and the passage in progress."""
        mode = self.mode
        current = self._passages.current
        self._relays.hold(mode in OPEN_MODES)
        # An open-once passage lifts the lock output for its duration: staff chose to let one through.
        self._relays.lock(mode in CLOSED_MODES and not (current is not None and current.open_once))
        self._signals.steady(mode)
        self._signals.passage(current is not None)

    def _output(self) -> None:
        if self._io is not None and self._point.listening:
            self._point.emit(OutputsChanged(lane=self.lane_id, monotonic=self._loop.time(), outputs=self._io.outputs()))
