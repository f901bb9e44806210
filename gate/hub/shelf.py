"""Where the hub keeps its snapshots, and the event positions they stand at (`HubStore.snapshots()`).

- **Positions**: every event the hub stores gets a position (`event.pos`), the next number under
  the store's write lock, so positions grow in the order events were committed. A snapshot
  carries the site's usage up to a position; a gate then asks for the events after it, and
  gets every one stored since, none twice (a store made before positions numbers its events
  once, in the order they came).
- **Snapshots**: each one's manifest (`snapshot`) and its chunks (`snapshot_chunk`), written
  chunk by chunk while it is built and made visible by its manifest last; only the newest
  `keep` are kept, with their chunks (a half-built one's chunks go at the next build).

`Shelf` is the interface (a PostgreSQL store will implement it too); `SqliteShelf` works on the
SQLite store's connection, under its lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from typing import NamedTuple, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshot (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    at REAL NOT NULL,
    manifest TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_chunk (
    snapshot TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (snapshot, idx)
);
"""
USAGE_TYPES = ("redemption.held", "redemption.committed", "redemption.released", "redemption.voided")
# Usage rows up to a position, after a cursor: committed and voided ones always, held and released
# ones only when recent (a hold older than a passage was finished or has lapsed; its release
# with it), each event once (a restored ledger's repeats are not).
_USAGE = f"""
SELECT pos, device, incarnation, type, redemption_id, body FROM event
WHERE pos > ? AND pos <= ? AND repeat = 0 AND type IN {USAGE_TYPES!r}
  AND (type IN ('redemption.committed', 'redemption.voided') OR at >= ?)
ORDER BY pos LIMIT ?
"""
_NEWEST = "SELECT id, seq, at, manifest FROM snapshot ORDER BY at DESC LIMIT 1"
_CHUNK = "SELECT data FROM snapshot_chunk WHERE snapshot = ? AND idx = ?"
_STALE = "SELECT id FROM snapshot ORDER BY at DESC LIMIT -1 OFFSET ?"
_ORPHANS = "DELETE FROM snapshot_chunk WHERE snapshot NOT IN (SELECT id FROM snapshot) AND snapshot <> ?"
_ERASED = "SELECT coalesce(max(at), 0) FROM erasure"
_NUMBER = """
WITH numbered AS (SELECT device, incarnation, seq,
                         row_number() OVER (ORDER BY received_at, device, incarnation, seq) AS n FROM event)
UPDATE event SET pos = numbered.n FROM numbered
WHERE event.device = numbered.device AND event.incarnation = numbered.incarnation AND event.seq = numbered.seq
"""


class Stored(NamedTuple):
    """A usage event at its position (`body` as the hub stores it: JSON text)."""

    pos: int
    device: str
    incarnation: str
    type: str
    redemption_id: str | None
    body: str


class Kept(NamedTuple):
    id: str
    seq: int
    at: float
    manifest: str  # JSON, signed


class Shelf(Protocol):
    def position(self) -> int:
        """The newest event's position (0: none)."""
        ...

    def usage(self, after: int, *, through: int, holds_since: float, limit: int) -> list[Stored]:
        """Usage events in (after, through], by position: held and released ones from `holds_since` on."""
        ...

    def put_chunks(self, snapshot: str, chunks: Sequence[tuple[int, bytes]]) -> None: ...

    def put(self, kept: Kept, *, keep: int) -> None:
        """The snapshot's manifest, which makes it servable; older ones past the newest `keep` go."""
        ...

    def newest(self) -> Kept | None: ...

    def get(self, snapshot: str) -> Kept | None: ...

    def chunk(self, snapshot: str, index: int) -> bytes | None: ...

    def drop(self, snapshot: str) -> None: ...

    def erased_at(self) -> float:
        """When the newest erasure was asked for (0: never): a snapshot older than it is not served."""
        ...


def prepare(conn: sqlite3.Connection) -> None:
    """The snapshot tables, and events' positions on a store made before them."""
    conn.executescript(SCHEMA)
    if "pos" not in _columns(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if "pos" not in _columns(conn):  # read again under the lock: another process may have been first
                conn.execute("ALTER TABLE event ADD COLUMN pos INTEGER NOT NULL DEFAULT 0")
                conn.execute(_NUMBER)  # the events stored before: positions in the order they came
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    conn.execute("CREATE INDEX IF NOT EXISTS event_pos ON event (pos)")


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {str(row[1]) for row in conn.execute("PRAGMA table_info(event)")}


def next_position(conn: sqlite3.Connection) -> int:
    """The position after the newest (inside the write transaction that stores events)."""
    return int(conn.execute("SELECT coalesce(max(pos), 0) + 1 FROM event").fetchone()[0])


class SqliteShelf:
    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def position(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT coalesce(max(pos), 0) FROM event").fetchone()[0])

    def usage(self, after: int, *, through: int, holds_since: float, limit: int) -> list[Stored]:
        with self._lock:
            return [Stored(*row) for row in self._conn.execute(_USAGE, (after, through, holds_since, limit))]

    def put_chunks(self, snapshot: str, chunks: Sequence[tuple[int, bytes]]) -> None:
        with self._lock:
            self._write("INSERT OR REPLACE INTO snapshot_chunk (snapshot, idx, data) VALUES (?, ?, ?)",
                        [(snapshot, index, data) for index, data in chunks])  # fmt: skip

    def put(self, kept: Kept, *, keep: int) -> None:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT INTO snapshot (id, seq, at, manifest) VALUES (?, ?, ?, ?)", kept)
                stale = [(id_,) for (id_,) in conn.execute(_STALE, (keep,)).fetchall()]
                conn.executemany("DELETE FROM snapshot WHERE id = ?", stale)
                conn.execute(_ORPHANS, (kept.id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def newest(self) -> Kept | None:
        with self._lock:
            row = self._conn.execute(_NEWEST).fetchone()
        return None if row is None else Kept(*row)

    def get(self, snapshot: str) -> Kept | None:
        with self._lock:
            row = self._conn.execute("SELECT id, seq, at, manifest FROM snapshot WHERE id = ?", (snapshot,)).fetchone()
        return None if row is None else Kept(*row)

    def chunk(self, snapshot: str, index: int) -> bytes | None:
        with self._lock:
            row = self._conn.execute(_CHUNK, (snapshot, index)).fetchone()
        return None if row is None else bytes(row[0])

    def drop(self, snapshot: str) -> None:
        with self._lock:
            self._write("DELETE FROM snapshot WHERE id = ?", [(snapshot,)])
            self._write("DELETE FROM snapshot_chunk WHERE snapshot = ?", [(snapshot,)])

    def erased_at(self) -> float:
        with self._lock:
            try:
                return float(self._conn.execute(_ERASED).fetchone()[0])
            except sqlite3.OperationalError:  # a store without erasures
                return 0.0

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
