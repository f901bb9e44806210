"""A ledger of the previous schema, opened by the new version: backed up first (named for its old
schema, mode 0600, the newest few kept), then migrated; rolled back by `gate ledger restore`;
left as it is when no backup can be made; and a long migration keeps telling systemd it goes on."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.cache import SCHEMA_VERSION, Ledger, schema, upgrade
from gate.cli import main
from gate.daemon.systemd import Notifier
from tests.configs import write_config
from tests.daemon.conftest import Notifications, Start, Venue, notify_socket, start_daemon, venue  # noqa: F401

PREVIOUS = SCHEMA_VERSION - 1


def older_ledger(path: Path, version: int = PREVIOUS) -> None:
    """A ledger as the version before left it: the migrations up to `version` only, and a journal row."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for migration in schema.MIGRATIONS[:version]:
        for statement in schema._statements(migration):
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO journal (id, at, type, lane, reason, body, inside) "
        "VALUES ('j-old', 1.0, 'lane.mode', 'l1', 'cleaning', '{}', 0)"
    )
    conn.close()


def version_of(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def journal_ids(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT id FROM journal ORDER BY seq")]
    finally:
        conn.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "gate.toml", ledger={"path": "ledger.sqlite"})


def test_gate_ledger_backs_up_an_older_ledger_then_migrates_it(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    older_ledger(ledger)
    assert main(["--config", str(config), "ledger", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["schema_version"] == SCHEMA_VERSION
    assert version_of(ledger) == SCHEMA_VERSION

    [backup] = upgrade.backups(ledger)
    assert backup.name.startswith(f"ledger.sqlite.schema{PREVIOUS}-") and backup.name.endswith("Z.backup")
    assert backup.stat().st_mode & 0o777 == 0o600  # holders' data
    assert version_of(backup) == PREVIOUS and journal_ids(backup) == ["j-old"]  # the ledger as it was
    assert not list(tmp_path.glob("*.partial"))

    # Up to date now: opening it again copies nothing.
    assert main(["--config", str(config), "ledger", "stats"]) == 0
    assert upgrade.backups(ledger) == [backup]


def test_rolling_back_is_restoring_the_backup_with_a_new_incarnation(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    older_ledger(ledger)
    with Ledger.open(ledger) as opened:  # the new version starts, and writes on the new schema
        before = opened.outbox().incarnation()
        opened.record_event("lane.mode", at=dt.datetime.now(dt.UTC), lane="l1", body={})
    [backup] = upgrade.backups(ledger)
    assert len(journal_ids(ledger)) == 2

    assert main(["--config", str(config), "ledger", "restore", str(backup)]) == 0
    said = capsys.readouterr().out
    assert f"incarnation {before} -> " in said
    with Ledger.open(ledger, create=False) as restored:
        # The row written after the backup is gone; the events after it get a new incarnation, so
        # none reuses a (device, incarnation, seq) the hub may hold already from the upgraded run.
        assert [e.id for e in restored.journal()] == ["j-old"]
        assert restored.outbox().incarnation() != before
    assert upgrade.backups(ledger) == [backup]  # the restore's copy is not backed up again
    assert version_of(backup) == PREVIOUS  # and the backup itself is left as it was


def test_the_newest_backups_are_kept(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    made: list[Path] = []
    for _ in range(upgrade.KEEP + 2):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{ledger}{suffix}").unlink(missing_ok=True)
        older_ledger(ledger)
        Ledger.open(ledger).close()
        made.append(next(p for p in upgrade.backups(ledger) if p not in made))
    assert upgrade.backups(ledger) == list(reversed(made[-upgrade.KEEP :]))
    assert not any(p.exists() for p in made[: -upgrade.KEEP])


def test_a_ledger_whose_backup_cannot_be_made_is_left_as_it_was(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    older_ledger(ledger)
    monkeypatch.setattr(upgrade, "SPARE_BYTES", 1 << 60)  # more room than any disk has
    assert main(["--config", str(config), "ledger", "stats"]) == 2
    error = capsys.readouterr().err
    assert f"cannot back up {ledger} (schema {PREVIOUS}) before migrating it, so it was left as it is" in error
    assert "MB are free at" in error
    assert version_of(ledger) == PREVIOUS and journal_ids(ledger) == ["j-old"]
    assert upgrade.backups(ledger) == [] and not list(tmp_path.glob("*.partial"))


@pytest.fixture
def datagrams(tmp_path: Path) -> Iterator[tuple[Path, list[tuple[float, str]]]]:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET, and what arrives on it."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.05)
    got: list[tuple[float, str]] = []
    done = threading.Event()

    def collect() -> None:
        while not done.is_set():
            try:
                got.append((time.monotonic(), sock.recv(4096).decode()))
            except TimeoutError:
                continue

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    yield path, got
    done.set()
    thread.join(1)
    sock.close()


SLOW_STEP = (
    "CREATE TABLE slow_step AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500000) "
    "SELECT sum(x) AS total FROM n"
)


def test_a_long_migration_keeps_extending_the_start_timeout(
    tmp_path: Path, datagrams: tuple[Path, list[tuple[float, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step of a next version that takes a while: EXTEND_TIMEOUT_USEC arrives all along it, not just once."""
    path, got = datagrams
    ledger = tmp_path / "ledger.sqlite"
    Ledger.open(ledger).close()  # today's schema, about to be the previous one
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, SLOW_STEP))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    monkeypatch.setattr(upgrade, "REPORT_EVERY_S", 0.05)
    notifier = Notifier(str(path))
    started = time.monotonic()
    with upgrade.reporting(lambda status: notifier.extend(upgrade.EXTEND_S, status)):
        Ledger.open(ledger).close()
    took = time.monotonic() - started
    time.sleep(0.2)
    notifier.close()

    extends = [(at, m) for at, m in got if "EXTEND_TIMEOUT_USEC=30000000" in m.split("\n")]
    statuses = [m.split("STATUS=", 1)[1] for _, m in extends]
    assert statuses[0] == f"backing up ledger schema {SCHEMA_VERSION} before migrating it to {SCHEMA_VERSION + 1}"
    migrating = [at for at, m in extends if f"migrating ledger schema {SCHEMA_VERSION} to" in m]
    assert len(migrating) >= 3, (took, got)  # again and again while the step runs, not once
    assert migrating[-1] - migrating[0] > took / 3
    assert version_of(ledger) == SCHEMA_VERSION + 1 and len(upgrade.backups(ledger)) == 1


def test_the_daemon_migrates_at_start_and_tells_systemd(
    venue: Venue, start_daemon: Start, notify_socket: Notifications  # noqa: F811 - tests/daemon's fixtures
) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{venue.ledger}{suffix}").unlink(missing_ok=True)
    older_ledger(venue.ledger)
    daemon = start_daemon(notify=notify_socket)
    ready = notify_socket.wait_for("READY", "1", timeout=20)
    extended = notify_socket.wait_for("EXTEND_TIMEOUT_USEC", "30000000")
    assert extended < ready
    assert any(s.startswith(f"migrating ledger schema {PREVIOUS} to {SCHEMA_VERSION}")
               for _, s in notify_socket.fields("STATUS"))  # fmt: skip
    assert daemon.stop() == 0
    [backup] = upgrade.backups(venue.ledger)
    assert version_of(backup) == PREVIOUS and version_of(venue.ledger) == SCHEMA_VERSION
    assert f"ledger {venue.ledger}: schema {PREVIOUS} backed up to {backup.name}" in daemon.log


def test_a_second_process_waits_for_the_migration_in_progress(tmp_path: Path, config: Path) -> None:
    """gate sync starting beside a lane daemon that migrates: it waits for the migration (its lock
    held here, as the daemon holds it), however long, rather than failing after SQLite's busy timeout."""
    ledger = tmp_path / "ledger.sqlite"
    older_ledger(ledger)
    lock = os.open(f"{ledger}.migration-lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    second = subprocess.Popen([sys.executable, "-m", "gate", "--config", str(config), "--log-level", "INFO", "ledger",
                               "stats"], cwd=Path(__file__).parents[2], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        time.sleep(1.5)
        assert second.poll() is None  # still waiting, not failed
        assert version_of(ledger) == PREVIOUS and upgrade.backups(ledger) == []
    finally:
        os.close(lock)  # the first migrator done
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 0, out
    assert "another process migrates its schema: waiting for it" in out
    assert version_of(ledger) == SCHEMA_VERSION and len(upgrade.backups(ledger)) == 1
