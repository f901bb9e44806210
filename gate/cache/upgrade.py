"""A ledger's schema upgrade: a backup first, one migrator at a time, progress told to systemd.

`connect` (gate/cache/schema.py) migrates a ledger of an older schema in one transaction.
Around it, this module:

- lets one process migrate at a time (`one_at_a_time`): the lane daemon and `gate sync` start
  together after an upgrade, and the second waits for the first (a flock on
  `<ledger>.migration-lock`) instead of giving up after SQLite's busy timeout;
- backs the ledger up before the first step (`upgrading`), under the migration's write lock,
  so the copy is exactly the ledger the old version left: `<ledger>.schema<N>-<UTC time>.backup`,
  mode 0600, the newest KEEP kept. Rolling back is `gate ledger restore` of that file with the
  old version (docs/scale.md, "Rolling upgrades"). A new, empty ledger has nothing to back up;
- tells whoever listens (`reporting`: the daemon hands systemd's notifier) what it does, at once
  and then every REPORT_EVERY_S while SQLite works, so a long migration extends the unit's start
  timeout (EXTEND_TIMEOUT_USEC) while it makes progress, and only then.

No backup can be made (no room, no right to write the folder): LedgerUnusable, nothing migrated,
and the reason said in one line. An old version's ledger is never changed without its copy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import glob
import logging
import math
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

from gate.cache.errors import LedgerError, LedgerUnusable

log = logging.getLogger("gate.cache")

KEEP = 3  # migration backups kept per ledger, newest first
REPORT_EVERY_S = 5.0
EXTEND_S = 30.0  # each report asks for this much more time: six reports could be missed
BACKUP_STEP_PAGES = 4096  # pages copied between two progress checks (16 MiB at 4 KiB pages)
PROGRESS_INSTRUCTIONS = 200_000  # SQLite VM steps between two progress checks in a migration step
WAIT_POLL_S = 0.1
SPARE_BYTES = 16 * 1024 * 1024  # beyond the copy itself: the migration's own pages and the WAL

Reporter = Callable[[str], object]
_reporter: ContextVar[Reporter | None] = ContextVar("gate_ledger_upgrade_reporter", default=None)
_backups: ContextVar[bool] = ContextVar("gate_ledger_upgrade_backups", default=True)
_NAME = re.compile(r"\.schema(\d+)-(\d{8}T\d{6}Z)(?:-(\d+))?\.backup$")


@contextlib.contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """Ledgers opened inside (in this context, or a thread started from it: asyncio.to_thread
    copies the context) report their migration's progress to `reporter`, from SQLite's thread."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


@contextlib.contextmanager
def without_backup() -> Iterator[None]:
    """Ledgers opened inside migrate without a backup of their own: `gate ledger restore`'s copy
    of a backup, which is itself the backup."""
    token = _backups.set(False)
    try:
        yield
    finally:
        _backups.reset(token)


class Progress:
    """Says what the migration does: at once when it changes, then at most every REPORT_EVERY_S."""

    def __init__(self, reporter: Reporter | None) -> None:
        self._reporter = reporter
        self._said_at = -math.inf
        self.status = ""

    def say(self, status: str) -> None:
        self.status = status
        self._said_at = -math.inf
        self.tick()

    def tick(self) -> int:
        """Report if due; 0 always (SQLite's progress handler: anything else would interrupt)."""
        if self._reporter is None:
            return 0
        now = time.monotonic()
        if now - self._said_at >= REPORT_EVERY_S:
            self._said_at = now
            try:
                self._reporter(self.status)
            except Exception as exc:  # a listener's fault never stops a migration
                log.warning("ledger migration: cannot report progress: %s", exc)
        return 0


@contextlib.contextmanager
def one_at_a_time(path: Path, version: int) -> Iterator[None]:
    """Hold the ledger's migration lock (its own file, never the ledger: closing another descriptor
    of the ledger would drop SQLite's locks) while migrating from `version`; 0 (a new file): none."""
    if version == 0:
        yield
        return
    lock = path.with_name(path.name + ".migration-lock")
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise LedgerError(f"cannot migrate ledger {path}: {lock}: {exc.strerror or exc}") from exc
    try:
        progress: Progress | None = None
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if progress is None:
                    log.info("ledger %s: another process migrates its schema: waiting for it", path)
                    progress = Progress(_reporter.get())
                    progress.say(f"waiting for another process's migration of ledger schema {version}")
                progress.tick()
                time.sleep(WAIT_POLL_S)
        yield
    finally:
        os.close(descriptor)  # and the lock with it


@contextlib.contextmanager
def upgrading(conn: sqlite3.Connection, path: Path, version: int, target: int) -> Iterator[None]:
    """Around the migration's steps, inside its write transaction (nobody else writes): the backup
    of an existing ledger at `version` (0 < version < target), then SQLite's progress reported
    while the steps run."""
    if not 0 < version < target:  # a new file: its tables made at once, nothing to keep or to report
        yield
        return
    progress = Progress(_reporter.get())
    if _backups.get():
        progress.say(f"backing up ledger schema {version} before migrating it to {target}")
        started = time.monotonic()
        made = backup(path, version, progress)
        log.info("ledger %s: schema %d backed up to %s (%d MB in %.1f s) before migrating to %d", path, version,
                 made.name, made.stat().st_size // 1_000_000, time.monotonic() - started, target)  # fmt: skip
        prune(path)
    progress.say(f"migrating ledger schema {version} to {target}")
    if _reporter.get() is not None:
        conn.set_progress_handler(progress.tick, PROGRESS_INSTRUCTIONS)
    try:
        yield
    finally:
        conn.set_progress_handler(None, 0)


def backup(path: Path, version: int, progress: Progress | None = None) -> Path:
    """A consistent copy of the ledger at `path`, named for its schema `version` and the time, mode
    0600, written as `.partial` and renamed once synced (never a half copy that looks whole).

    Read through a connection of its own: the migrating one holds the write transaction, and
    SQLite's backup from a connection in a write transaction waits for it forever."""
    target = _free_name(path, version, dt.datetime.now(dt.UTC))
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _cannot(path, version, str(exc)) from exc
    try:
        pages = source.execute("PRAGMA page_count").fetchone()[0] * source.execute("PRAGMA page_size").fetchone()[0]
        free = shutil.disk_usage(path.parent).free
        if free < pages + SPARE_BYTES:
            raise _cannot(path, version, f"its copy needs {_mb(pages + SPARE_BYTES)} MB, {_mb(free)} MB are free at "
                          f"{path.parent}: make room (older {path.name}.schema*.backup files may go)")  # fmt: skip
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))  # holder data
        copy = sqlite3.connect(partial)
        try:
            tick = progress.tick if progress is not None else (lambda: 0)
            source.backup(copy, pages=BACKUP_STEP_PAGES, progress=lambda _status, _left, _total: tick())
        finally:
            copy.close()
        _sync(partial)
        partial.rename(target)
        _sync(path.parent)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _cannot(path, version, reason) from exc
    finally:
        source.close()
    return target


def backups(path: Path) -> list[Path]:
    """The migration backups of the ledger at `path`, newest first."""
    found = []
    for candidate in path.parent.glob(f"{glob.escape(path.name)}.schema*.backup"):
        match = _NAME.search(candidate.name[len(path.name) :])
        if match is not None:
            found.append((match.group(2), int(match.group(3) or 0), candidate))
    return [candidate for *_, candidate in sorted(found, reverse=True)]


def prune(path: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest `keep` migration backups (they hold holders' data); the deleted."""
    gone = backups(path)[keep:]
    for old in gone:
        try:
            old.unlink()
            log.info("ledger %s: old migration backup %s deleted (%d kept)", path, old.name, keep)
        except OSError as exc:
            log.warning("ledger %s: cannot delete old migration backup %s: %s", path, old.name, exc.strerror or exc)
    return gone


def _free_name(path: Path, version: int, at: dt.datetime) -> Path:
    stem = f"{path.name}.schema{version}-{at:%Y%m%dT%H%M%SZ}"
    # Two migrations in one second (a restore, then a start): numbered after the newest of that
    # second, never in a gap a pruned one left, so the names keep their order.
    taken = [int(m.group(3) or 1) for p in path.parent.glob(f"{glob.escape(stem)}*.backup")
             if (m := _NAME.search(p.name[len(path.name) :])) is not None]  # fmt: skip
    return path.with_name(f"{stem}-{max(taken) + 1}.backup" if taken else f"{stem}.backup")


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _mb(size: int) -> int:
    return -(-size // 1_000_000)


def _cannot(path: Path, version: int, reason: str) -> LedgerUnusable:
    return LedgerUnusable(
        f"cannot back up {path} (schema {version}) before migrating it, so it was left as it is: {reason}"
    )
