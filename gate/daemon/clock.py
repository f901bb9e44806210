"""The daemon's decision clock: wall time while it can be trusted, the last trusted time plus the
monotonic clock when it cannot.

Rules need wall-clock time (a membership expires at midnight local time), but a Pi has no
battery-backed clock by default: it boots on the time it saved at shutdown until NTP
answers, and anyone with a shell can set it. So the daemon keeps an anchor (a wall reading
it trusted, and the monotonic reading taken with it) and compares every wall reading with
what the anchor predicts:

- a step beyond `max_jump_s` is a jump. A step made by time sync itself (the kernel says the
  clock is synchronised right after it) is a correction and is followed; any other jump is
  not: decisions go on at anchor + monotonic elapsed, and the lane reports an untrusted
  clock until the wall clock agrees with the anchor again (or time sync corrects it);
- with `require_sync`, a clock never synchronised since boot is reported as untrusted (the
  wall clock is still the best guess there is, so decisions use it).

Both are reported in the lane's status and logged once per change; while `reporting` to a
decision point, each change of trust is a `ClockTrust` event too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gate.point.events import ClockTrust

if TYPE_CHECKING:
    from gate.point import DecisionPoint

log = logging.getLogger("gate.clock")

# Created by systemd-timesyncd at its first synchronisation after boot (tmpfs: gone at reboot).
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised (STA_UNSYNC and friends)


@dataclass(frozen=True, slots=True)
class Sync:
    """What the system says about time synchronisation."""

    since_boot: bool  # synchronised at least once since boot
    now: bool | None  # synchronised at this moment; None when it cannot be told


@dataclass(frozen=True, slots=True)
class ClockState:
    """What the lane reports about its clock."""

    trusted: bool
    reason: str | None  # why it is not trusted
    synchronised: bool  # since boot
    offset_s: float  # wall clock minus decision clock: non-zero while a jump is not followed
    since: dt.datetime | None  # decision time at which the current state began


def _adjtimex() -> Callable[[], bool | None]:
    """The kernel's own verdict, read with adjtimex(2) in read-only mode (modes = 0).

    Only the return value is used, so the buffer need not match struct timex's layout on
    this ABI (32- or 64-bit time_t): it only has to be large enough and zeroed.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        call = libc.adjtimex
    except (OSError, AttributeError, TypeError):
        return lambda: None

    def synced() -> bool | None:
        buffer = ctypes.create_string_buffer(1024)
        state = call(buffer)
        if state < 0:  # EPERM under a seccomp filter such as ProtectClock=yes
            return None
        return bool(state != _TIME_ERROR)

    return synced


_kernel_synced = _adjtimex()


def system_sync() -> Sync:
    now = _kernel_synced()
    return Sync(since_boot=bool(now) or TIMESYNC_FLAG.exists(), now=now)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DecisionClock:
    """`clock.now` is the `Callable[[], datetime]` the lane decides with (aware, UTC)."""

    def __init__(
        self, *, max_jump_s: float = 30.0, require_sync: bool = True, wall: Callable[[], dt.datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic, sync: Callable[[], Sync] = system_sync,
        sync_every_s: float = 1.0,
    ) -> None:  # fmt: skip
        self.max_jump_s = max_jump_s
        self.require_sync = require_sync
        self._wall = wall
        self._monotonic = monotonic
        self._sync_source = sync
        self._sync_every = sync_every_s
        self._lock = threading.Lock()  # now() may be called from worker threads too
        self._anchor: tuple[dt.datetime, float] | None = None
        self._sync = Sync(since_boot=False, now=None)
        self._ever_synced = False
        self._sync_checked = -float("inf")
        self._state = ClockState(trusted=False, reason="not read yet", synchronised=False, offset_s=0.0, since=None)
        self._problem: str | None = "unread"
        self._listeners: list[Callable[[ClockState], None]] = []  # told of each change, under the lock
        self._hub_offset: float | None = None  # the hub's clock minus ours, as gate sync measured it

    def hub_offset(self, offset: float | None) -> None:
        """The hub's clock minus this device's (gate sync measures it on the hub's head): further
        off than `max_jump_s`, the clock is not trusted, whatever time sync says."""
        with self._lock:
            self._hub_offset = offset

    def now(self) -> dt.datetime:
        with self._lock:
            return self._observe()

    @property
    def state(self) -> ClockState:
        with self._lock:
            self._observe()
            return self._state

    async def watch(self, period: float = 1.0) -> None:
        """Look at the clocks every `period` s, so a jump is noticed (and logged) while the lane is idle."""
        while True:
            # The sync check may read a file; keep even that off the loop.
            await asyncio.to_thread(self.now)
            await asyncio.sleep(period)

    @contextlib.contextmanager
    def reporting(self, *, point: DecisionPoint, lane: str) -> Iterator[None]:
        """While inside: a `ClockTrust` on `point` now (the state at start), then at each change of trust.

        A change may be seen on any thread that asks the time; the event is emitted on the loop.
        """
        loop = asyncio.get_running_loop()
        told: list[tuple[bool, str]] = []

        def tell(state: ClockState) -> None:  # on the loop
            trust = (state.trusted, state.reason or "")
            if told and told[-1] == trust:
                return
            told[:] = [trust]
            point.clock_changed(ClockTrust(lane=lane, monotonic=loop.time(), trusted=trust[0], reason=trust[1]))

        def changed(state: ClockState) -> None:  # under the clock's lock, on any thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(tell, state)

        with self._lock:
            self._listeners.append(changed)
        try:
            tell(self.state)
            yield
        finally:
            with self._lock:
                self._listeners.remove(changed)

    def _observe(self) -> dt.datetime:
        wall, mono = self._wall(), self._monotonic()
        if mono - self._sync_checked >= self._sync_every:
            self._sync = self._sync_source()
            self._sync_checked = mono
            self._ever_synced = self._ever_synced or self._sync.since_boot or bool(self._sync.now)
        if self._anchor is None:
            self._anchor = (wall, mono)
        anchor_wall, anchor_mono = self._anchor
        expected = anchor_wall + dt.timedelta(seconds=mono - anchor_mono)
        step = (wall - expected).total_seconds()
        if abs(step) > self.max_jump_s and self._sync.now is not True:
            # Not time sync's doing: keep the anchor and decide on the monotonic clock.
            self._report("jump", f"clock jumped {step:+.0f} s; deciding on the last trusted time", step, expected)
            return expected
        if abs(step) > self.max_jump_s:
            log.info("clock stepped %+.1f s by time sync; following it", step)
        # Small steps (slewing, tick rounding) are followed: re-anchoring keeps them from adding up.
        self._anchor = (wall, mono)
        hub = self._hub_offset
        if self.require_sync and not self._ever_synced:
            self._report("unsynced", "no time sync since boot", 0.0, wall)
        elif hub is not None and abs(hub) > self.max_jump_s:
            self._report("hub", f"{-hub:+.0f} s off the hub's clock", -hub, wall)
        else:
            self._report(None, None, 0.0, wall)
        return wall

    def _report(self, problem: str | None, reason: str | None, offset: float, at: dt.datetime) -> None:
        old, changed = self._state, problem != self._problem or self._state.since is None
        self._problem = problem
        trusted = problem is None
        since = at if changed else old.since
        self._state = ClockState(trusted, reason, self._ever_synced, round(offset, 3), since)
        if not changed:
            return
        for listener in self._listeners:
            listener(self._state)
        if trusted:
            log.info("clock trusted%s", "" if old.since is None else f" again (was: {old.reason})")
        else:
            log.warning("clock not trusted: %s", reason)
