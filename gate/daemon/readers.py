"""Readers under supervision: each configured reader of the lane feeds its reads to the lane, and
one that fails is rebuilt with capped backoff while the lane and the other readers go on.

Readers reconnect to their hardware by themselves; this catches what they do not (a bug, a
decoder that raises, a reads() that ends). Decisions in progress are shielded from the
shutdown: SIGTERM stops readers taking reads, and a read already handed to the lane is
decided to the end (its hold is in the ledger before the lane drains).

Given the decision point, a supervised reader tells its subscribers when it goes down (it
failed, or its device went away) and when it comes up (opened, or its device is back): one
`ReaderChanged` per change, none while it stays as it is.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gate.backoff import Backoff
from gate.config import ReaderConfig
from gate.point.events import ReaderChanged
from gate.scanner.read import Read, Reader, deduplicated

if TYPE_CHECKING:
    from gate.point import DecisionPoint

log = logging.getLogger("gate.daemon")

Handle = Callable[[Read], Awaitable[object]]
Build = Callable[[str, ReaderConfig], Reader]


@dataclass(frozen=True, slots=True)
class ReaderState:
    """What `gate lane status` shows of one reader."""

    id: str
    type: str
    direction: str
    running: bool  # inside its context, taking reads
    connected: bool | None  # the hardware is open, for readers that can tell
    restarts: int
    last_error: str | None
    reads: int


class LaneFeed:
    """Hands reads to the lane, keeps the decisions in progress, and tells when the lane is idle."""

    def __init__(self, handle: Handle) -> None:
        self._handle = handle
        self._inflight: set[asyncio.Task[None]] = set()
        self.closed = False
        self.last_read = time.monotonic()

    async def __call__(self, read: Read) -> None:
        if self.closed:
            return  # stopping: no new reads
        self.last_read = time.monotonic()
        task = asyncio.create_task(self._decide(read), name=f"decide:{read.reader}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        # Cancelling the reader must not cancel a decision half-way: the shield keeps it going.
        await asyncio.shield(task)

    async def _decide(self, read: Read) -> None:
        try:
            await self._handle(read)
        except Exception:
            # The lane logs its decisions; a failure here is a bug or a ledger fault, not the reader's.
            log.exception("reader=%s decision failed", read.reader)
        finally:
            self.last_read = time.monotonic()

    @property
    def busy(self) -> bool:
        return bool(self._inflight)

    def idle_for(self) -> float:
        return 0.0 if self._inflight else time.monotonic() - self.last_read

    async def drain(self) -> None:
        """Stop taking reads and wait for the decisions already taken."""
        self.closed = True
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)


class SupervisedReader:
    """One reader, rebuilt after a failure with capped backoff (0.5 s doubling to 30 s)."""

    STABLE_AFTER = 30.0  # a reader that ran this long starts its backoff over
    WATCH_EVERY = 0.25  # how often the reader's device flag is looked at (for ReaderChanged)
    OPEN_GRACE = 2.0  # a reader whose device is not open this long after it started is down

    def __init__(
        self, reader_id: str, config: ReaderConfig, feed: LaneFeed, *, build: Build,
        point: DecisionPoint | None = None,
    ) -> None:  # fmt: skip
        self.id = reader_id
        self.config = config
        self._feed = feed
        self._build = build
        self._point = point  # told of each change up or down, when given
        self._up: bool | None = None  # as last told; None before the first change
        self._opened_at = 0.0
        self.backoff = Backoff(initial=0.5, cap=30.0)
        self.reader: Reader | None = None
        self.restarts = 0
        self.last_error: str | None = None
        self.reads = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        watch = None if self._point is None else asyncio.create_task(self._watch(), name=f"reader-watch:{self.id}")
        try:
            await self._supervise()
        finally:  # cancelled: the daemon stops its readers on purpose, which is no change to tell
            if watch is not None:
                watch.cancel()

    async def _supervise(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self._once()
                self.last_error = "its reads ended"
                log.warning("reader=%s stopped delivering reads; restarting it", self.id)
            except Exception as exc:  # any failure of a reader is survived the same way
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("reader=%s failed: %s", self.id, self.last_error, exc_info=exc)
            finally:
                self.reader = None
            self._changed(up=False, detail=self.last_error)
            if time.monotonic() - started >= self.STABLE_AFTER:
                self.backoff.reset()
            delay = self.backoff.delay()
            self.restarts += 1
            log.info("reader=%s restarting in %.1f s", self.id, delay)
            await asyncio.sleep(delay)

    async def _once(self) -> None:
        # Building a camera reader imports OpenCV: seconds on a Pi, so off the loop.
        reader = await asyncio.to_thread(self._build, self.id, self.config)
        async with reader:
            self.reader = reader
            self._opened_at = asyncio.get_running_loop().time()
            if _connected(reader) is not False:  # a device still opening is the watch's to tell
                self._changed(up=True, detail="started")
            log.info("reader=%s (%s, %s) started", self.id, self.config.type, self.config.direction)
            async for read in deduplicated(reader.reads(), self.config.dedupe_seconds):
                self.reads += 1
                await self._feed(read)

    async def _watch(self) -> None:
        """Tell when the device of a running reader comes and goes (a serial port reopens by itself)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.WATCH_EVERY)
            reader = self.reader
            if reader is None:
                continue  # between two runs: the supervisor told why
            connected = _connected(reader)
            if connected is True:
                self._changed(up=True, detail="connected")
            elif connected is False and (self._up or loop.time() - self._opened_at >= self.OPEN_GRACE):
                # Up, its device went away; or never up: its device is not there (or still opening).
                self._changed(up=False, detail="device not connected")

    def _changed(self, *, up: bool, detail: str) -> None:
        """One ReaderChanged per change, built only when someone listens."""
        if up == self._up:
            return
        self._up = up
        point = self._point
        if point is None or not point.listening:
            return
        monotonic = asyncio.get_running_loop().time()
        detail = detail[:160]  # an error's text, kept short for a screen
        point.emit(ReaderChanged(lane=self.config.lane, monotonic=monotonic, reader=self.id, up=up, detail=detail))

    def state(self) -> ReaderState:
        reader = self.reader
        return ReaderState(
            id=self.id,
            type=self.config.type,
            direction=self.config.direction,
            running=reader is not None,
            connected=_connected(reader),
            restarts=self.restarts,
            last_error=self.last_error,
            reads=self.reads,
        )

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()


def _connected(reader: Reader | None) -> bool | None:
    """Serial and camera readers keep a threading.Event, the wedge reader a bool; others tell nothing."""
    if reader is None:
        return False
    flag: object = getattr(reader, "connected", None)
    if isinstance(flag, threading.Event):
        return flag.is_set()
    if isinstance(flag, bool):
        return flag
    return None
