"""The two-phase passage: an admitted redemption is held, the relay pulses, the sensor counts, then commit.

One worker task takes admitted passages first come, first served: a second admit while a
passage is open waits for the first to end (each person has at most its timeout) before its
relay pulses. Each admitted person gets one pulse and `timeout` seconds (monotonic) to pass;
the passage ends when everyone expected has passed, when a person's time runs out, or when
something ends it early (fire alarm, the lane locked, shutdown). Then exactly those who
passed are committed (`DecisionPoint.commit(passed=n)`), or the hold is released when nobody did,
so a visitor who turned away keeps the credit, the voucher or the seat.

An accessible entitlement allows one companion: one more pulse and passage, never committed
(the companion is not a use of the entitlement).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from gate.backoff import Backoff
from gate.cache import LedgerError
from gate.point.events import PassageStepName
from gate.point.model import PassageInfo, PassageResult
from gate.records import Direction
from gate.turnstile.relays import Relays

log = logging.getLogger("gate.turnstile")

Commit = Callable[[str, int], Awaitable[None]]  # redemption, persons passed
Release = Callable[[str, str], Awaitable[None]]  # redemption, why
OnStep = Callable[[PassageStepName, "Passage", "PassageResult | None"], None]
LEDGER_ATTEMPTS = 5  # a busy ledger (an import holding the lock) is retried, then left to the restart rule


@dataclass(eq=False)
class Passage:
    direction: Direction
    admitted: int  # persons the decision admitted (committed at most)
    expected: int  # pulses and passages allowed: admitted, plus one companion when accessible
    timeout: float  # seconds each person has
    redemption: str | None  # None: a staff "open once", nothing to commit
    entitlement_id: str | None = None
    passed: int = 0
    started: float | None = None  # loop time of the first pulse
    deadline: float = 0.0  # loop time the current person's time runs out
    ended: str | None = None  # why it ended, once it has
    pulsed: int = 0  # pulses given so far (one per person)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def open_once(self) -> bool:
        return self.redemption is None


class Passages:
    """The queue of admitted passages and the one in progress."""

    def __init__(
        self, *, commit: Commit, release: Release, relays: Relays, on_change: Callable[[], None], on_step: OnStep
    ) -> None:
        self._commit = commit
        self._release = release
        self._relays = relays
        self._on_change = on_change
        self._on_step = on_step
        self._queue: deque[Passage] = deque()
        self._ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.current: Passage | None = None

    def add(self, passage: Passage) -> None:
        """Queue an admitted passage; with nothing in progress it starts (and pulses) at once."""
        self._idle.clear()
        if self.current is None and not self._queue:
            self._start(passage)
        else:
            self._queue.append(passage)
        self._ready.set()

    def _start(self, p: Passage) -> None:
        self.current = p
        if p.ended is None:
            p.started = asyncio.get_running_loop().time()
            p.deadline = p.started + p.timeout
            # Straight from the read's task when the relay is free: no extra turn of the loop.
            if self._relays.pulse_now(p.direction):
                p.pulsed = 1
                self._on_step("unlocked", p, None)
        self._on_change()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def sensor(self, direction: Direction) -> bool:
        """A passage in `direction`; True when it counted for the passage in progress."""
        p = self.current
        if p is None or p.direction != direction or p.ended is not None or p.passed >= p.expected:
            return False
        p.passed += 1
        p.wake.set()
        self._on_step("passed", p, None)
        return True

    def end(self, why: str) -> None:
        """End the passage in progress now, with what passed so far, and release those waiting."""
        self.release_waiting(why)
        p = self.current
        if p is not None and p.ended is None:
            p.ended = why
            p.wake.set()

    def release_waiting(self, why: str) -> None:
        """Passages not started yet are released (nothing was pulsed for them)."""
        for p in self._queue:
            if p.ended is None:
                p.ended = why

    def info(self, now: float) -> PassageInfo | None:
        p = self.current
        if p is None:
            return None
        left = max(0.0, p.deadline - now) if p.started is not None else p.timeout
        return PassageInfo(p.direction, p.redemption, p.entitlement_id, p.expected, p.passed, left, len(self._queue))

    async def settled(self) -> None:
        """Wait until no passage is open or waiting, and every finished one is in the ledger."""
        await self._idle.wait()

    async def run(self) -> None:
        """The worker: one passage at a time, for as long as the lane runs."""
        while True:
            if self.current is None:
                if self._queue:
                    self._start(self._queue.popleft())
                else:
                    self._ready.clear()
                    self._idle.set()
                    await self._ready.wait()
                    continue
            p = self.current
            assert p is not None
            try:
                await self._through(p)
            finally:
                self.current = None
                self._on_change()
            # The next passage may start (from `add`) while this one is being written.
            result = await self._finish(p)
            self._on_step(result.outcome, p, result)

    async def _through(self, p: Passage) -> None:
        if p.ended is not None:
            return  # ended while waiting its turn: nothing was pulsed
        loop = asyncio.get_running_loop()
        while p.ended is None and p.passed < p.expected:
            counted = p.passed
            if p.pulsed <= counted:  # this person's pulse
                await self._relays.pulse(p.direction)
                p.pulsed = counted + 1
                self._on_step("unlocked", p, None)
                p.deadline = loop.time() + p.timeout
            while p.ended is None and p.passed == counted:
                remaining = p.deadline - loop.time()
                if remaining <= 0:
                    break
                p.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(p.wake.wait(), remaining)
            if p.ended is None and p.passed == counted:
                p.ended = "timeout"
        if p.ended is None:
            p.ended = "all passed"

    async def _finish(self, p: Passage) -> PassageResult:
        loop = asyncio.get_running_loop()
        seconds = 0.0 if p.started is None else loop.time() - p.started
        why = p.ended or "ended"
        committed = min(p.passed, p.admitted)
        outcome: Literal["committed", "released", "open_once", "failed"]
        if p.redemption is None:
            outcome, committed = "open_once", 0
        else:
            redemption = p.redemption
            if committed > 0:
                done = await self._write(lambda: self._commit(redemption, committed), p)
                outcome = "committed" if done else "failed"
            else:
                release_why = "no passage" if why == "timeout" else why
                done = await self._write(lambda: self._release(redemption, release_why), p)
                outcome = "released" if done else "failed"
                committed = 0
        result = PassageResult(
            p.redemption, p.entitlement_id, p.direction, p.admitted, p.passed, committed, outcome, why, seconds
        )
        log.info(
            "passage lane-result redemption=%s entitlement=%s direction=%s admitted=%d passed=%d %s (%s) %.2fs",
            p.redemption or "-", p.entitlement_id or "-", p.direction, p.admitted, p.passed, outcome, why, seconds,
        )  # fmt: skip
        return result

    async def _write(self, write: Callable[[], Awaitable[None]], p: Passage) -> bool:
        backoff = Backoff(initial=0.1, cap=1.0)
        for attempt in range(1, LEDGER_ATTEMPTS + 1):
            try:
                await write()
                return True
            except LedgerError as exc:
                if attempt == LEDGER_ATTEMPTS:
                    # The hold stays in the ledger; the next start releases it (docs/lane.md).
                    log.error("redemption %s: giving up after %d attempts: %s", p.redemption, attempt, exc)
                    return False
                log.warning("redemption %s: ledger write failed (%s); retrying", p.redemption, exc)
                await asyncio.sleep(backoff.delay())
        return False
