"""Storage faults: a ledger that cannot be written is a state of the lane, not a crash.

A write that fails with a StorageError (a full disk, a read-only or immutable file, an I/O
error) is retried twice, shortly. If it still fails, the point enters a storage fault
(docs/lane.md, "Storage faults"):

- its lanes are out of order with cause `storage`, held in memory over the mode staff set
  (as the fire alarm's emergency is) and never written to the ledger's mode setting;
- no read is admitted: a lane never opens without its hold written. Reads are decided
  (`lane_closed`, out of order) without writing, and those refusals are kept in memory,
  up to `KEPT_REFUSALS`, past which they are counted;
- a commit or release that could not be written (a visitor who passed) is kept, in order,
  and so is a journal row written in the background (the fire loop, an alarm).

Every second the point tries again: the kept writes first, then the kept refusals, then a
`storage.recovered` row that says how many refusals were lost. With nothing kept, a small
meta write without fsync proves the file writable (never a journal row). Once all of it is
written, the lanes return by themselves to the mode staff had set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gate.cache import LedgerError, StorageError
from gate.engine import Engine, Outcome
from gate.records import Direction

log = logging.getLogger("gate.point")

_T = TypeVar("_T")
RETRY_DELAYS_S = (0.05, 0.2)  # before the second and the third attempt of a failed write
KEPT_REFUSALS = 1000
RECOVERY_TICK_S = 1.0
FRESH_WRITE_S = 30.0  # a real write this recent proves the ledger writable: no probe needed


@dataclass(frozen=True, slots=True)
class KeptRefusal:
    outcome: Outcome
    lane: str
    at: dt.datetime
    direction: Direction


@dataclass
class Storage:
    """The point's storage state: one ledger serves all its lanes, so one state for all."""

    engine: Engine
    run: Callable[[Callable[[], Any]], Awaitable[Any]]  # the point's ledger thread
    monotonic: Callable[[], float]
    fault: str | None = None  # what failed, while in a fault
    since: dt.datetime | None = None
    deferred: list[tuple[str, Callable[[], object]]] = field(default_factory=list)  # (what, ledger call)
    refusals: list[KeptRefusal] = field(default_factory=list)
    lost: int = 0
    last_write: float | None = None  # loop time of the last write that worked
    damaged: bool = False  # corrupt pages: no write proves the ledger sound again, only a restore

    async def write(self, call: Callable[[], _T]) -> _T:
        """Run a ledger write, retried twice on a StorageError; the StorageError if all three fail."""
        for delay in (*RETRY_DELAYS_S, None):
            try:
                result: _T = await self.run(call)
            except StorageError as exc:
                if delay is None:
                    raise
                log.warning("ledger write failed (%s); retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            self.last_write = self.monotonic()
            return result
        raise AssertionError("unreachable")

    def enter(self, exc: StorageError, at: dt.datetime, *, damaged: bool = False) -> bool:
        """Enter the fault (True) or stay in it (False). A `damaged` ledger stays in it."""
        self.damaged = self.damaged or damaged
        if self.fault is not None:
            if damaged:
                self.fault = str(exc)
            return False
        self.fault, self.since = str(exc), at
        log.error("storage fault: %s; the lanes are out of order until the ledger can be written", exc)
        return True

    def defer(self, what: str, call: Callable[[], object]) -> None:
        log.warning("storage fault: %s kept, written once the ledger can be", what)
        self.deferred.append((what, call))

    def keep(self, refusal: KeptRefusal) -> None:
        if len(self.refusals) < KEPT_REFUSALS:
            self.refusals.append(refusal)
        else:
            self.lost += 1

    async def recover(self, at: dt.datetime) -> bool:
        """Write what the fault kept; True once all of it is written (the fault is over)."""
        if self.damaged:
            return False
        try:
            await self.run(self._write_kept)
            if not self.deferred and not self.refusals:
                body = {"since": self.since.isoformat() if self.since else None, "refusals_lost": self.lost,
                        "fault": self.fault}  # fmt: skip
                await self.run(lambda: self.engine.ledger.record_event("storage.recovered", at=at, body=body))
        except LedgerError as exc:  # a storage error, or the ledger busy with another writer
            log.debug("storage fault goes on: %s", exc)
            if "READONLY" in str(exc):  # opened read-only: only a new connection sees a fixed file
                try:
                    await self.run(self.engine.ledger.reopen)
                except LedgerError as again:
                    log.debug("storage fault: the ledger cannot be opened again yet: %s", again)
            return False
        log.warning("storage fault over (since %s): %d refusal(s) lost", self.since, self.lost)
        self.fault, self.since, self.lost = None, None, 0
        self.last_write = self.monotonic()
        return True

    def _write_kept(self) -> None:
        # In order, each popped once written: a failure half-way keeps the rest for the next try.
        while self.deferred:
            what, call = self.deferred[0]
            try:
                call()
                log.info("storage fault: %s written", what)
            except StorageError:
                raise
            except LedgerError as exc:
                # Done already: its COMMIT went through and only the sync after it failed.
                log.warning("storage fault: %s needs no writing any more: %s", what, exc)
            self.deferred.pop(0)
        while self.refusals:
            kept = self.refusals[0]
            self.engine.journal_refusal(kept.outcome, lane=kept.lane, at=kept.at, direction=kept.direction)
            self.refusals.pop(0)

    async def probe(self) -> None:
        """Prove the ledger writable with a small meta write (no fsync, no journal row), unless a real
        write did so within FRESH_WRITE_S. StorageError when it cannot be written."""
        if self.last_write is not None and self.monotonic() - self.last_write < FRESH_WRITE_S:
            return
        await self.write(self.engine.ledger.touch)
