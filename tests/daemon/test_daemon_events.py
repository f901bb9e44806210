"""The daemon tells the decision point's subscribers when a reader goes down or comes back, and when
its clock stops or starts being trusted: `ReaderChanged` and `ClockTrust`, on a real daemon
in-process (real ledger, mock pins) with a serial scanner on a pty, or a scripted reader."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import tty
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gate.backoff import Backoff
from gate.cli import main
from gate.config import load_config
from gate.daemon.clock import DecisionClock, Sync
from gate.daemon.run import Daemon
from gate.daemon.systemd import Notifier
from gate.point import DecisionPoint, Subscription
from gate.point.events import ClockTrust, DecisionMade, Event, ReaderChanged
from gate.scanner.read import Read, Reader
from tests.daemon.conftest import lane_config, ledger_lines

_E = TypeVar("_E", bound=Event)


class Scanner:
    """A pty pair standing in for a serial scanner on a fixed path (a symlink, like a udev alias)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fds: list[int] = []
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(slave)
        self.fds += [self.master, slave]
        self.path.unlink(missing_ok=True)
        self.path.symlink_to(os.ttyname(slave))

    def unplug(self) -> None:
        os.close(self.master)  # the reader's next read of the port fails (EIO)
        self.fds.remove(self.master)

    def send(self, code: str) -> None:
        os.write(self.master, code.encode() + b"\r")

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


@pytest.fixture
def scanner(tmp_path: Path) -> Iterator[Scanner]:
    scanner = Scanner(tmp_path / "ttyScanner")
    yield scanner
    scanner.close()


@pytest.fixture
def config_path(tmp_path: Path, scanner: Scanner) -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(lane_config(str(scanner.path), timeout=0.2))
    lines = tmp_path / "ledger.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in ledger_lines()) + "\n")
    assert main(["--config", str(path), "ledger", "import", str(lines)]) == 0
    return path


async def _next(events: Subscription, kind: type[_E], timeout: float = 15.0) -> _E:
    """The next event of `kind`, past the lane's other events (outputs, decisions...)."""
    async with asyncio.timeout(timeout):
        while not isinstance(event := await events.get(), kind):
            pass
        return event


async def _point(daemon: Daemon) -> DecisionPoint:
    """The daemon's decision point as soon as it runs: before its readers start."""
    async with asyncio.timeout(10):
        while daemon.point is None:
            # Every turn of the loop, not every few ms: the daemon awaits its control socket
            # between setting its point and starting its readers, and the subscription must
            # come in that gap (a busy machine's 2 ms sleep could miss it, and the first event).
            await asyncio.sleep(0)
    return daemon.point


async def _stopped(daemon: Daemon, task: asyncio.Task[None]) -> None:
    daemon.stop("test")
    await asyncio.wait_for(task, 15)


def test_a_scanner_unplugged_is_a_reader_down_and_plugged_back_a_reader_up(config_path: Path, scanner: Scanner) -> None:
    async def scenario() -> tuple[list[ReaderChanged], DecisionMade]:
        daemon = Daemon(load_config(config_path), "l1", notifier=Notifier(None))
        task = asyncio.create_task(daemon.run())
        changes: list[ReaderChanged] = []
        async with (await _point(daemon)).subscribe() as events:
            changes.append(await _next(events, ReaderChanged))  # the port opened
            scanner.unplug()
            changes.append(await _next(events, ReaderChanged))
            await asyncio.sleep(0.5)  # reopening fails a few times: nothing more is told
            scanner.plug()
            changes.append(await _next(events, ReaderChanged))
            scanner.send("NOPE")  # and the reader reads again
            made = await _next(events, DecisionMade)
            assert not [e for e in events.drain() if isinstance(e, ReaderChanged)]
        await _stopped(daemon, task)
        return changes, made

    changes, made = asyncio.run(scenario())
    assert [(c.lane, c.reader, c.up, c.detail) for c in changes] == [
        ("l1", "scan", True, "connected"),
        ("l1", "scan", False, "device not connected"),
        ("l1", "scan", True, "connected"),
    ]
    assert changes[0].monotonic < changes[1].monotonic < changes[2].monotonic
    assert made.decision.verdict == "deny" and made.lane == "l1"


class Failing(Reader):
    """A scanner that works a moment, then fails as an unplugged one whose reader cannot cope would."""

    def __init__(self, name: str, *, fail: bool) -> None:
        super().__init__(name=name, direction="entry")
        self.fail = fail

    async def reads(self) -> AsyncGenerator[Read, None]:
        await asyncio.sleep(0.1)
        if self.fail:
            raise OSError("unplugged")
        await asyncio.Event().wait()
        yield Read("never", None, self.name, "entry")  # pragma: no cover - makes this a generator


def test_a_failing_reader_is_down_once_however_often_it_fails_and_up_when_rebuilt(config_path: Path) -> None:
    builds: list[str] = []

    def build(reader_id: str, config: Any) -> Reader:
        builds.append(reader_id)
        if len(builds) in (2, 3):
            raise RuntimeError("cannot build")  # the rebuilds fail too: still the one "down"
        return Failing(reader_id, fail=len(builds) == 1)

    async def scenario() -> list[ReaderChanged]:
        daemon = Daemon(load_config(config_path), "l1", notifier=Notifier(None), build=build)
        task = asyncio.create_task(daemon.run())
        changes: list[ReaderChanged] = []
        async with (await _point(daemon)).subscribe() as events:
            changes.append(await _next(events, ReaderChanged))
            for reader in daemon.readers:
                reader.backoff = Backoff(initial=0.01, cap=0.02)
            changes.append(await _next(events, ReaderChanged))
            changes.append(await _next(events, ReaderChanged))
            await asyncio.sleep(0.6)  # the watch looks at the reader a few times: no change, nothing told
            assert not [e for e in events.drain() if isinstance(e, ReaderChanged)]
        await _stopped(daemon, task)
        return changes

    changes = asyncio.run(scenario())
    assert [(c.reader, c.up, c.detail) for c in changes] == [
        ("scan", True, "started"),
        ("scan", False, "OSError: unplugged"),
        ("scan", True, "started"),
    ]
    assert len(builds) == 4


class Clocks:
    """The system's wall clock as the test sets it, and what time sync says; monotonic is real."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()
        self.sync = Sync(since_boot=True, now=True)

    def clock(self) -> DecisionClock:
        return DecisionClock(
            max_jump_s=30, wall=lambda: dt.datetime.now(dt.UTC) + self.offset, sync=lambda: self.sync,
            sync_every_s=0,
        )  # fmt: skip


def test_the_clock_losing_and_regaining_trust_is_told(config_path: Path) -> None:
    clocks = Clocks()

    async def scenario() -> list[ClockTrust]:
        daemon = Daemon(load_config(config_path), "l1", notifier=Notifier(None), clock=clocks.clock())
        task = asyncio.create_task(daemon.run())
        trust: list[ClockTrust] = []
        async with (await _point(daemon)).subscribe() as events:
            clocks.sync = Sync(since_boot=True, now=False)  # set by hand: the kernel says unsynchronised
            clocks.offset = dt.timedelta(days=-1)
            trust.append(await _next(events, ClockTrust))  # the daemon's clock task notices within 1 s
            clocks.offset = dt.timedelta()  # set back: agrees with the last trusted time again
            trust.append(await _next(events, ClockTrust))
        await _stopped(daemon, task)
        return trust

    lost, back = asyncio.run(scenario())
    assert (lost.lane, lost.trusted) == ("l1", False)
    assert lost.reason == "clock jumped -86400 s; deciding on the last trusted time"
    assert (back.lane, back.trusted, back.reason) == ("l1", True, "")
    assert lost.monotonic < back.monotonic


def test_the_clock_tells_its_state_when_reporting_starts_then_each_change(config_path: Path) -> None:
    clocks = Clocks()
    clocks.sync = Sync(since_boot=False, now=False)  # booted, no time sync yet

    async def scenario() -> list[ClockTrust]:
        daemon = Daemon(load_config(config_path), "l1", notifier=Notifier(None))
        task = asyncio.create_task(daemon.run())
        point = await _point(daemon)
        clock = clocks.clock()  # a clock of its own, reporting to the running point from the start
        async with point.subscribe() as events:
            with clock.reporting(point=point, lane="l1"):
                first = await _next(events, ClockTrust)
                clocks.sync = Sync(since_boot=True, now=True)  # time sync answers
                await asyncio.to_thread(clock.now)  # seen on a worker thread, told on the loop
                second = await _next(events, ClockTrust)
            clocks.sync = Sync(since_boot=True, now=False)
            clocks.offset = dt.timedelta(hours=2)
            assert not clock.state.trusted  # not reporting any more: nothing is told
            await asyncio.sleep(0.05)
            rest = [e for e in events.drain() if isinstance(e, ClockTrust)]
        await _stopped(daemon, task)
        return [first, second, *rest]

    first, second, *rest = asyncio.run(scenario())
    assert (first.lane, first.trusted, first.reason) == ("l1", False, "no time sync since boot")
    assert (second.lane, second.trusted, second.reason) == ("l1", True, "")
    assert rest == []
