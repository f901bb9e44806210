"""Readers under supervision: each configured reader of the lane feeds its reads to the lane, and
one that fails is rebuilt with capped backoff while the lane and the other readers go on.

Readers reconnect to their hardware by themselves; this catches what they do not (a bug, a
decoder that raises, a reads() that ends). Decisions in progress are shielded from the
shutdown: SIGTERM stops readers taking reads, and a read already handed to the lane is
decided to the end (its hold is in the ledger before the lane drains).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gate.backoff import Backoff
from gate.config import ReaderConfig
from gate.scanner.read import Read, Reader, deduplicated

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

    def __init__(self, reader_id: str, config: ReaderConfig, feed: LaneFeed, *, build: Build) -> None:
        self.id = reader_id
        self.config = config
        self._feed = feed
        self._build = build
        self.backoff = Backoff(initial=0.5, cap=30.0)
        self.reader: Reader | None = None
        self.restarts = 0
        self.last_error: str | None = None
        self.reads = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
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
            log.info("reader=%s (%s, %s) started", self.id, self.config.type, self.config.direction)
            async for read in deduplicated(reader.reads(), self.config.dedupe_seconds):
                self.reads += 1
                await self._feed(read)

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
