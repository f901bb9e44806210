"""A lane that keeps its word when its disk is full: a real `gate run` process, its ledger on a
small tmpfs the test mounts and fills, the passage walked with the test kit."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger
from tests.daemon.conftest import ROOT, DaemonProcess, Notifications, Start, Venue, wait_ready


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True,
                             text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (the full-disk test needs root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> Path:
    """Fill the disk to the last byte, as a log that ran away would."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    with pytest.raises(OSError) as full:
        (disk / "probe").write_bytes(b"x" * 8192)
    assert full.value.errno == errno.ENOSPC
    return filler



def _lane(daemon: DaemonProcess) -> dict[str, Any]:
    lane: dict[str, Any] = daemon.status()["lane"]
    return lane


def test_a_full_disk_puts_the_lane_out_of_order_and_loses_no_passage(
    venue: Venue, start_daemon: Start, small_disk: Path, notify_socket: Notifications
) -> None:
    shutil.copy(venue.ledger, small_disk / "ledger.sqlite")
    venue.write_config(ledger={"path": str(small_disk / "ledger.sqlite")})
    daemon = start_daemon(notify=notify_socket, watchdog_usec=400_000)
    wait_ready(daemon)

    # A visitor is admitted (the hold is written), then the disk fills before they pass.
    venue.scan("ONE")
    daemon.wait_until(lambda s: s["lane"]["passage"] is not None)
    filler = _fill(small_disk)
    assert venue.ask({"op": "sim_passage"})["ok"]
    # The commit cannot be written: the lane is out of order for storage, not dead.
    lane = daemon.wait_until(lambda s: s["lane"]["mode"] == "out_of_order")["lane"]
    assert (lane["mode_cause"], lane["staff_mode"]) == ("storage", "normal")
    assert "full" in lane["storage_fault"]
    # Alive, and systemd is told so: no restart loop while the disk stays full.
    status = daemon.wait_until(lambda s: not s["health"]["ok"])
    (ledger_check,) = [c for c in status["health"]["checks"] if c["name"] == "ledger"]
    assert "storage fault" in ledger_check["detail"] and ledger_check["vital"] is False
    notify_socket.wait_for("WATCHDOG", "1", after=time.monotonic())
    assert daemon.process.poll() is None
    # Nobody is admitted meanwhile; the refusal is kept for the journal.
    venue.scan("NOBODY")
    daemon.wait_until(lambda s: len(s["lane"]["last_decisions"]) == 2)
    refused = _lane(daemon)["last_decisions"][-1]
    assert (refused["verdict"], refused["reason"]) == ("deny", "lane_closed")

    # Space returns: the lane writes what it kept and goes back to the mode staff had set.
    filler.unlink()
    daemon.wait_until(lambda s: s["lane"]["mode"] == "normal" and s["lane"]["storage_fault"] is None, timeout=10)
    assert daemon.stop() == 0

    with Ledger.open(small_disk / "ledger.sqlite") as ledger:
        journal = ledger.journal()
        committed = [e for e in journal if e.type == "redemption.committed"]
        assert [(e.entitlement_id, e.body["passed"]) for e in committed] == [("t-one", 1)]  # once, not lost
        refusals = [e for e in journal if e.type == "refusal"]
        assert [(e.reason, e.body["reference"]) for e in refusals] == [("lane_closed", "NOBODY")]
        (recovered,) = [e for e in journal if e.type == "storage.recovered"]
        assert recovered.body["refusals_lost"] == 0
        assert ledger.setting("lane.l1.mode") is None  # the fault was never written as a mode
        assert ledger.open_holds() == []


@contextlib.contextmanager
def _reachable_by_others(path: Path) -> Iterator[None]:
    """Let other users read `path` and pass through the folders above it (o+x, no listing)
    while the test runs: a fresh clone may sit in a private temporary folder, where an
    unprivileged daemon could not import gate (Python lists the folders it imports from)."""
    changed = []
    for folder, wanted in ((path, stat.S_IROTH | stat.S_IXOTH), *((p, stat.S_IXOTH) for p in path.parents)):
        mode = folder.stat().st_mode
        if mode & wanted != wanted:
            folder.chmod(mode | wanted)
            changed.append((folder, mode))
    try:
        yield
    finally:
        for folder, mode in changed:
            folder.chmod(stat.S_IMODE(mode))


def _spawn_as_nobody(venue: Venue) -> DaemonProcess:
    """`gate run` as an unprivileged user, as the unit runs it (root writes read-only files)."""
    process = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "gate", "run",
         "--config", str(venue.config)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    daemon = DaemonProcess(process, venue)
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: daemon.output.extend(iter(stdout.readline, "")), daemon=True).start()
    return daemon


def test_a_read_only_ledger_of_an_unprivileged_daemon_is_out_of_order_not_writable(venue: Venue) -> None:
    # A directory the unprivileged user can reach, with the ledger root's and read-only, as a
    # wrong owner after an install step leaves it.
    home = Path(tempfile.mkdtemp(prefix="gate-ro-"))
    home.chmod(0o777)
    for name in ("gate.toml", "ledger.sqlite"):
        shutil.copy(venue.dir / name, home / name)
    (home / "ledger.sqlite").chmod(0o444)
    Path(venue.port).chmod(0o666)
    venue = Venue(home, home / "gate.toml", venue.scanner, venue.port)
    with _reachable_by_others(ROOT):
        _read_only_ledger(venue, home)


def _read_only_ledger(venue: Venue, home: Path) -> None:
    daemon = _spawn_as_nobody(venue)
    try:
        wait_ready(daemon)
        # Not "writable": the health check writes, fails, and the lane is out of order for storage.
        lane = daemon.wait_until(lambda s: s["lane"]["mode"] == "out_of_order", timeout=15)["lane"]
        assert lane["mode_cause"] == "storage" and "readonly" in lane["storage_fault"]
        (check,) = [c for c in daemon.status()["health"]["checks"] if c["name"] == "ledger"]
        assert not check["ok"] and check["vital"] is False
        # A visitor gets an answer: refused, nothing held.
        venue.scan("ONE")
        daemon.wait_until(lambda s: len(s["lane"]["last_decisions"]) == 1)
        assert daemon.status()["lane"]["last_decisions"][0]["reason"] == "lane_closed"
        assert daemon.stop() == 0
        with Ledger.open(venue.ledger) as ledger:
            assert ledger.open_holds() == []
            assert not [e for e in ledger.journal() if e.type.startswith("redemption.")]
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
        shutil.rmtree(home, ignore_errors=True)


def test_an_immutable_ledger_is_out_of_order_until_it_can_be_written_again(venue: Venue, start_daemon: Start) -> None:
    if subprocess.run(["chattr", "+i", str(venue.ledger)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i does not work on this file system")
    daemon = start_daemon()
    try:
        wait_ready(daemon)
        lane = daemon.wait_until(lambda s: s["lane"]["mode"] == "out_of_order", timeout=15)["lane"]
        assert lane["mode_cause"] == "storage" and "readonly" in lane["storage_fault"]
        venue.scan("ONE")
        daemon.wait_until(lambda s: len(s["lane"]["last_decisions"]) == 1)
        assert daemon.status()["lane"]["last_decisions"][0]["reason"] == "lane_closed"
        # The file made writable again: the lane reopens it, writes what it kept and is back by itself.
        subprocess.run(["chattr", "-i", str(venue.ledger)], check=True)
        daemon.wait_until(lambda s: s["lane"]["mode"] == "normal", timeout=15)
        assert daemon.stop() == 0
    finally:
        subprocess.run(["chattr", "-i", str(venue.ledger)], capture_output=True, check=False)
    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
    assert [(e.type, e.reason) for e in journal if e.type in ("refusal", "redemption.held")] == [
        ("refusal", "lane_closed")
    ]
    assert [e.type for e in journal if e.type == "storage.recovered"] == ["storage.recovered"]
