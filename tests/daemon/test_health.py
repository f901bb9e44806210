"""sd_notify on real datagram sockets, the loop ticker, the ledger probe and the watchdog's rule."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from gate.cache import Ledger
from gate.daemon.health import Check, LedgerProbe, LoopTicker, Watchdog
from gate.daemon.systemd import Notifier


def _receiver(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


def test_notify_to_a_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with _receiver(str(path)) as sock:
        notifier = Notifier.from_env({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "10000000"})
        assert notifier.watchdog_interval == 5.0
        assert notifier.ready("serving")
        assert sock.recv(1024).decode() == f"READY=1\nSTATUS=serving\nMAINPID={os.getpid()}"
        assert notifier.watchdog() and sock.recv(1024) == b"WATCHDOG=1"
        assert notifier.status("two\nlines") and sock.recv(1024) == b"STATUS=two lines"
        assert notifier.stopping() and sock.recv(1024) == b"STOPPING=1\nSTATUS=stopping"


def test_notify_to_an_abstract_socket() -> None:
    name = f"gate-test-{uuid.uuid4().hex}"
    with _receiver("\0" + name) as sock:
        assert Notifier.from_env({"NOTIFY_SOCKET": "@" + name}).notify("READY=1")
        assert sock.recv(1024) == b"READY=1"


def test_without_systemd_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    assert not Notifier.from_env({}).ready("x")
    gone = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody")})
    assert gone.enabled and not gone.watchdog()  # the manager went away: logged once, never raised


def test_watchdog_is_for_the_pid_systemd_named() -> None:
    assert Notifier.from_env({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": str(os.getpid())}).watchdog_usec == 1000
    assert Notifier.from_env({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_usec is None
    assert Notifier.from_env({"WATCHDOG_USEC": "0"}).watchdog_usec is None


def test_the_ticker_sees_a_blocked_loop() -> None:
    async def scenario() -> tuple[float, float, float]:
        ticker = LoopTicker(period=0.02)
        task = asyncio.create_task(ticker.run())
        await asyncio.sleep(0.1)
        calm = ticker.lag(reset=True)
        time.sleep(0.3)  # the loop is blocked: even before the ticker runs, the overdue tick counts
        blocked = ticker.lag()
        await asyncio.sleep(0.05)
        after = ticker.lag(reset=True)
        task.cancel()
        return calm, blocked, after

    calm, blocked, after = asyncio.run(scenario())
    assert calm < 0.1 and blocked >= 0.25 and after >= 0.25


def test_ledger_probe(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    assert not LedgerProbe(path).probe().ok  # missing: not silently created
    assert not path.exists()
    Ledger.open(path).close()
    assert LedgerProbe(path).probe() == Check("ledger", True, "writable")

    # Another writer holding the lock proves the file writable.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    assert LedgerProbe(path).probe().detail == "writable (another writer holds the lock)"
    other.execute("ROLLBACK")
    other.close()


def test_ledger_probe_on_a_ledger_it_may_not_write() -> None:
    """The daemon's user lost write access (a wrong chown, a read-only remount).

    Root writes read-only files anyway, so as root the probe runs as `nobody`, in a child.
    """
    directory = Path(tempfile.mkdtemp(prefix="gate-probe-"))
    try:
        path = directory / "ledger.sqlite"
        Ledger.open(path).close()
        directory.chmod(0o755)
        for file in directory.iterdir():
            file.chmod(0o444)
        pid = os.fork()
        if pid == 0:  # the child: drop root, probe, report through the exit status only
            try:
                if os.geteuid() == 0:
                    os.setgid(65534)
                    os.setuid(65534)
                result = LedgerProbe(path).probe()
                os._exit(3 if not result.ok and "not writable" in result.detail else 0)
            except BaseException:
                os._exit(4)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 3
    finally:
        shutil.rmtree(directory)


class _Notes(Notifier):
    def __init__(self) -> None:
        super().__init__(None, 1_000_000)
        self.sent: list[str] = []

    def notify(self, *fields: str) -> bool:
        self.sent.extend(fields)
        return True


def test_watchdog_pings_only_while_every_check_passes() -> None:
    notes = _Notes()
    checks: list[Check] = [Check("ledger", True, "writable")]

    def current() -> Sequence[Check]:
        return checks

    watchdog = Watchdog(notes, current, ticker=LoopTicker(), max_lag=1.0, describe=lambda: "serving: lane l1")
    watchdog.tick()
    assert notes.sent == ["STATUS=serving: lane l1", "WATCHDOG=1"]
    checks[0] = Check("ledger", False, "read-only file system")
    notes.sent.clear()
    watchdog.tick()
    watchdog.tick()
    assert notes.sent == ["STATUS=unhealthy: ledger: read-only file system"]
    checks[0] = Check("ledger", True, "writable")
    notes.sent.clear()
    watchdog.tick()
    assert notes.sent == ["STATUS=serving: lane l1", "WATCHDOG=1"]
    assert watchdog.pings == 2
