"""What every reader produces, the interface every reader has, and the duplicate filter.

A reader is an async context manager with an async iterator of `Read`s: hardware comes and
goes inside it (a reader reconnects by itself), so the lane only ever sees reads.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from gate.records import Direction

# "]" + symbology letter + modifier, as scanners configured for AIM identifiers send them.
AIM_PREFIX = re.compile(rb"^\][A-Za-z][0-9A-Za-z]")


@dataclass(frozen=True, slots=True)
class Read:
    """One code seen by one reader."""

    data: str | bytes  # bytes only when the payload is not UTF-8 text
    symbology: str | None  # AIM identifier such as "]Q1", when known
    reader: str
    direction: Direction
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    monotonic: float = field(default_factory=time.monotonic)


def split_aim(payload: bytes) -> tuple[str | None, bytes]:
    """The AIM symbology identifier a scanner prefixed, and the payload without it."""
    match = AIM_PREFIX.match(payload)
    if match is None:
        return None, payload
    return match.group().decode("ascii"), payload[match.end() :]


def as_text(payload: bytes) -> str | bytes:
    """Text when the payload is UTF-8, else the bytes themselves (a binary code stays binary)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload


class Reader(abc.ABC):
    """A source of reads: `async with reader:` then `async for read in reader.reads():`."""

    def __init__(self, *, name: str, direction: Direction) -> None:
        self.name = name
        self.direction = direction

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:  # noqa: B027 - readers without resources need nothing
        """Release the hardware; reads() ends."""

    @abc.abstractmethod
    def reads(self) -> AsyncGenerator[Read, None]:
        """Reads as they come, until the reader is closed."""


class Deduplicator:
    """The same code from one reader within `window` seconds is one read.

    A phone held under a camera is seen many times a second, and a visitor who scans twice
    out of impatience must not be told "already used" by their own first scan.
    """

    def __init__(self, window: float = 3.0) -> None:
        self.window = window
        self._last: dict[tuple[str, str | bytes], float] = {}

    def fresh(self, read: Read) -> bool:
        key = (read.reader, read.data)
        last = self._last.get(key)
        self._last[key] = read.monotonic
        if len(self._last) > 1024:
            # Forget codes whose window has passed, so a lane that runs for months stays small.
            horizon = read.monotonic - self.window
            self._last = {k: t for k, t in self._last.items() if t >= horizon}
        return last is None or read.monotonic - last >= self.window


async def deduplicated(reads: AsyncIterator[Read], window: float) -> AsyncGenerator[Read, None]:
    """The reads of a stream, without repeats of one code within `window` seconds."""
    dedupe = Deduplicator(window)
    async for read in reads:
        if dedupe.fresh(read):
            yield read
