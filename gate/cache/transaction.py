"""A ledger connection's transactions: read snapshots and write transactions.

Plain classes with `__enter__`/`__exit__` rather than `@contextmanager` generators: a lane's
decision opens several of these, and a generator-based context manager costs several times
as much to enter and leave (docs/performance.md, "Ledger internals").

Durability is ours, not a pragma's. The connection runs with `synchronous=NORMAL`, where a
WAL commit is consistent but waits for no sync; a durable write then syncs the WAL file
itself once COMMIT returns: the same `fdatasync` SQLite's FULL would have made, and in the
same place, with no pragma to switch back and forth around the writes that need none (a
hold, a refusal: about 10 to 25 us each).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from gate.cache.errors import LedgerError, StorageError


def fault(exc: sqlite3.Error, doing: str) -> LedgerError:
    """SQLite's error as ours: busy (another writer held the lock too long) or a storage fault.

    A full disk, a read-only or vanished file, an I/O error or a corrupt page is a
    StorageError, which the decision point turns into a lane state instead of a crash.
    """
    name = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return LedgerError(f"ledger is busy: {exc}")
    return StorageError(f"cannot {doing} the ledger: {exc} ({name})")


class WalSync:
    """Syncs a ledger's WAL file to disk: what makes a committed write durable.

    The file is opened on first use, once a commit has surely created it, and stays valid:
    SQLite keeps a database's WAL file for as long as any connection has it open, ours too.
    """

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}-wal")
        self._fd = -1

    def __call__(self) -> None:
        try:
            if self._fd < 0:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            os.fdatasync(self._fd)
        except OSError as exc:
            raise StorageError(f"a commit may not be on disk: cannot sync {self.path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Transactions:
    """The transaction state of one connection (the ledger's own, used from one thread).

    `refresh` runs first in every transaction, so the in-memory tail is read as of the same
    moment as the tables; `sync` makes what committed durable; `after_durable` runs after a
    durable write has committed and synced.
    """

    def __init__(
        self, conn: sqlite3.Connection, *, refresh: Callable[[], None], sync: Callable[[], None],
        after_durable: Callable[[], None],
    ) -> None:  # fmt: skip
        self.conn = conn
        # BEGIN, COMMIT and ROLLBACK go through one cursor of their own: conn.execute would
        # make a cursor object for each, and a passage runs six of them.
        self.control = conn.cursor()
        self.refresh = refresh
        self.sync = sync
        self.after_durable = after_durable
        self.writing = False  # inside a write transaction of ours
        self.committed: list[Callable[[], None]] = []  # what the tail learns once the write commits
        self.unchecked = 0  # write transactions since the last checkpoint

    def on_commit(self, learn: Callable[[], None]) -> None:
        """Run `learn` once the write transaction now open has committed (never if it rolls back)."""
        self.committed.append(learn)

    def snapshot(self) -> Snapshot:
        return Snapshot(self)

    def write(self, *, durable: bool = True) -> Write:
        return Write(self, durable)


class Snapshot:
    """One read transaction for several reads; inside any transaction already, it joins it."""

    __slots__ = ("_began", "_tx")

    def __init__(self, tx: Transactions) -> None:
        self._tx = tx
        self._began = False

    def __enter__(self) -> None:
        tx = self._tx
        if tx.conn.in_transaction:
            return
        tx.control.execute("BEGIN")
        self._began = True
        try:
            tx.refresh()
        except BaseException as exc:
            tx.control.execute("COMMIT")
            if isinstance(exc, sqlite3.Error):
                raise fault(exc, "read") from exc
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._began:
            tx = self._tx
            try:
                if tx.conn.in_transaction:
                    tx.control.execute("COMMIT")
            except sqlite3.Error as failed:  # a damaged file fails its read transaction's end too
                with contextlib.suppress(sqlite3.Error):
                    if tx.conn.in_transaction:
                        tx.control.execute("ROLLBACK")
                raise fault(exc if isinstance(exc, sqlite3.Error) else failed, "read") from failed
            if isinstance(exc, sqlite3.Error):
                raise fault(exc, "read") from exc


class Write:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: one write, all or nothing.

    IMMEDIATE takes the write lock up front, so a second writer waits on busy_timeout instead
    of failing half-way through with SQLITE_BUSY. Inside a write already, the writes join it.
    Durable: the WAL is synced before the `with` block is left, unless the transaction changed
    no row (a one-step decision that refused, which journals its refusal without a sync). Not
    durable: no sync waits for it (it reaches the disk with the next durable commit).
    """

    __slots__ = ("_changes", "_durable", "_outer", "_tx")

    def __init__(self, tx: Transactions, durable: bool) -> None:
        self._tx = tx
        self._durable = durable
        self._outer = False
        self._changes = 0

    def __enter__(self) -> None:
        tx = self._tx
        if tx.writing:
            return
        if tx.conn.in_transaction:
            raise LedgerError("a write cannot run inside a read snapshot")
        tx.unchecked += 1
        tx.writing = self._outer = True
        self._changes = tx.conn.total_changes
        control = tx.control
        try:
            try:
                control.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise fault(exc, "write") from exc
            try:
                tx.refresh()
            except BaseException as exc:
                if tx.conn.in_transaction:
                    control.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise fault(exc, "read") from exc
                raise
        except BaseException:
            self._done()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._outer:
            return
        tx = self._tx
        control = tx.control
        try:
            if exc_type is not None:
                if tx.conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                    control.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise fault(exc, "write") from exc
                return
            try:
                control.execute("COMMIT")
            except BaseException as failed:
                if tx.conn.in_transaction:
                    control.execute("ROLLBACK")
                if isinstance(failed, sqlite3.Error):
                    raise fault(failed, "write") from failed
                raise
            # Committed, so visible to other connections: the tail learns it even if the sync fails.
            for learn in tx.committed:
                learn()
        finally:
            self._done()
        if self._durable and tx.conn.total_changes != self._changes:
            tx.sync()
            tx.after_durable()

    def _done(self) -> None:
        tx = self._tx
        tx.writing = False
        tx.committed.clear()
