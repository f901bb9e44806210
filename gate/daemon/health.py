"""The daemon's own health checks, and the systemd watchdog they feed.

systemd restarts a service whose pings stop. The pings are sent from the event loop itself,
so a loop that is blocked (a hung decode, a deadlock) sends none, whatever the checks say;
the checks add what a blocked loop cannot show: a loop that is merely slow, a reader
supervisor that died, a ledger that can no longer be written (read-only file system, lost
permissions). An unplugged scanner is not a failure: its reader reconnects by itself and a
restart would not plug it back in, so it is reported, not held against the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gate.daemon.systemd import Notifier

log = logging.getLogger("gate.daemon")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    # A failing vital check stops the watchdog's pings, so systemd restarts the daemon. A
    # lane out of order for storage is alive: a restart would not free the disk, so that
    # failure is reported and the pings go on (no restart loop).
    vital: bool = True


class LoopTicker:
    """Measures how late the event loop wakes a sleeping task: its lag."""

    def __init__(self, period: float = 0.1) -> None:
        self.period = period
        self._last = time.monotonic()
        self._worst = 0.0  # the worst lag since the watchdog last looked

    async def run(self) -> None:
        while True:
            due = time.monotonic() + self.period
            await asyncio.sleep(self.period)
            now = time.monotonic()
            self._worst = max(self._worst, now - due)
            self._last = now

    def lag(self, *, reset: bool = False) -> float:
        """The worst lag seen since the last reset, counting a tick that is overdue right now."""
        overdue = time.monotonic() - self._last - self.period
        worst = max(self._worst, overdue, 0.0)
        if reset:
            self._worst = 0.0
        return worst


class LedgerProbe:
    """Can the ledger still be written? The decision point answers once it runs (`point_check`);
    before, `BEGIN IMMEDIATE; ROLLBACK` on a connection of its own, in a worker thread.

    That takes the write lock and gives it back, writing nothing; SQLITE_BUSY means another
    writer holds the lock (a `gate ledger import`), which proves the file writable enough.
    """

    def __init__(self, path: Path, every: float = 5.0) -> None:
        self.path = path
        self.every = every
        self.result = Check("ledger", True, "not checked yet")
        # Once the decision point runs, it answers: a real write of its own within the last
        # seconds proves the ledger writable, else it writes a meta row (no fsync, no
        # journal row); None means writable, else the storage fault's description.
        self.point_check: Callable[[], Awaitable[str | None]] | None = None

    async def run(self) -> None:
        while True:
            if self.point_check is not None:
                fault = await self.point_check()
                result = Check("ledger", True, "writable") if fault is None else Check("ledger", False, fault, False)
            else:
                result = await asyncio.to_thread(self.probe)
            if result.ok != self.result.ok:
                (log.info if result.ok else log.error)("ledger write check: %s", result.detail)
            self.result = result
            await asyncio.sleep(self.every)

    def probe(self) -> Check:
        try:
            # mode=rw: a missing ledger is an error here, never silently created.
            uri = f"{self.path.absolute().as_uri()}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)
        except sqlite3.Error as exc:
            return Check("ledger", False, f"cannot open {self.path}: {exc}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return Check("ledger", True, "writable (another writer holds the lock)")
            return Check("ledger", False, f"{self.path} is not writable: {exc}")
        except sqlite3.Error as exc:
            return Check("ledger", False, f"{self.path}: {exc}")
        finally:
            conn.close()
        return Check("ledger", True, "writable")


class Watchdog:
    """Pings systemd at half its timeout while every check passes, and says why when one does not."""

    def __init__(
        self, notifier: Notifier, checks: Callable[[], Sequence[Check]], *, ticker: LoopTicker, max_lag: float,
        describe: Callable[[], str] = lambda: "serving", idle_period: float = 2.0,
    ) -> None:  # fmt: skip
        self.notifier = notifier
        self.checks = checks
        self.describe = describe
        self._status = ""
        self.ticker = ticker
        self.max_lag = max_lag
        self.period = notifier.watchdog_interval or idle_period
        self.pings = 0
        self._failing: tuple[str, ...] = ()

    def evaluate(self, *, reset: bool = False) -> list[Check]:
        lag = self.ticker.lag(reset=reset)
        loop = Check("loop", lag <= self.max_lag, f"lag {lag * 1000:.0f} ms (limit {self.max_lag * 1000:.0f} ms)")
        return [loop, *self.checks()]

    async def run(self) -> None:
        while True:
            self.tick()
            await asyncio.sleep(self.period)

    def tick(self) -> None:
        checks = self.evaluate(reset=True)
        failing = tuple(f"{c.name}: {c.detail}" for c in checks if not c.ok)
        fatal = any(not c.ok and c.vital for c in checks)
        if failing != self._failing:
            if failing:
                what = "not feeding the watchdog" if fatal else "still feeding the watchdog (a restart would not help)"
                log.error("unhealthy, %s: %s", what, "; ".join(failing))
            elif self._failing:
                log.info("healthy again")
            self._failing = failing
        # systemctl status shows STATUS=: keep it current, sending only what changed.
        status = "unhealthy: " + "; ".join(failing) if failing else self.describe()
        if status != self._status:
            self.notifier.status(status)
            self._status = status
        if not fatal and self.notifier.watchdog_interval is not None:
            self.notifier.watchdog()
            self.pings += 1
