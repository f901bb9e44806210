"""A ledger connection's transactions: read snapshots and write transactions.

Plain classes with `__enter__`/`__exit__` rather than `@contextmanager` generators: a lane's
decision opens several of these, and a generator-based context manager costs several times
as much to enter and leave (docs/performance.md, "Ledger internals").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from types import TracebackType

from gate.cache.errors import LedgerError

_SYNC_NORMAL, _SYNC_FULL = "PRAGMA synchronous = NORMAL", "PRAGMA synchronous = FULL"


class Transactions:
    """The transaction state of one connection (the ledger's own, used from one thread).

    `refresh` runs first in every transaction, so the in-memory tail is read as of the same
    moment as the tables; `after_durable` runs after a durable write has committed.
    """

    def __init__(
        self, conn: sqlite3.Connection, *, refresh: Callable[[], None], after_durable: Callable[[], None]
    ) -> None:
        self.conn = conn
        self.refresh = refresh
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
        conn = self._tx.conn
        if conn.in_transaction:
            return
        conn.execute("BEGIN")
        self._began = True
        try:
            self._tx.refresh()
        except BaseException:
            conn.execute("COMMIT")
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._began:
            self._tx.conn.execute("COMMIT")


class Write:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception: one write, all or nothing.

    IMMEDIATE takes the write lock up front, so a second writer waits on busy_timeout instead
    of failing half-way through with SQLITE_BUSY. Inside a write already, the writes join it.
    Not durable: synchronous=NORMAL for this transaction, so no fsync waits for it (it reaches
    the disk with the next durable commit).
    """

    __slots__ = ("_durable", "_outer", "_tx")

    def __init__(self, tx: Transactions, durable: bool) -> None:
        self._tx = tx
        self._durable = durable
        self._outer = False

    def __enter__(self) -> None:
        tx = self._tx
        if tx.writing:
            return
        conn = tx.conn
        if conn.in_transaction:
            raise LedgerError("a write cannot run inside a read snapshot")
        tx.unchecked += 1
        if not self._durable:
            conn.execute(_SYNC_NORMAL)
        tx.writing = self._outer = True
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise LedgerError(f"ledger is busy: {exc}") from exc
            try:
                tx.refresh()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            self._done()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._outer:
            return
        tx, conn = self._tx, self._tx.conn
        try:
            if exc_type is not None:
                conn.execute("ROLLBACK")
                return
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            for learn in tx.committed:
                learn()
        finally:
            self._done()
        if self._durable:
            tx.after_durable()

    def _done(self) -> None:
        tx = self._tx
        tx.writing = False
        tx.committed.clear()
        if not self._durable:
            tx.conn.execute(_SYNC_FULL)
