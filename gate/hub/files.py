"""The files the hub's log holds: each published file's digest and its batches, recorded in the
transaction that appends them (gate/hub/store.py calls these).

A file is published once: the watched folder (gate/hub/inbox.py) and `gate hub publish` look its
SHA-256 up first, so a file taken again (a hub killed between appending its batches and moving
it to done/, or the same file dropped twice) adds nothing to the log. Its batches and its record
commit together: there is no moment where the log has them and the record does not.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable, Sequence

from gate.hub import erasure
from gate.sync.batches import Batch

SCHEMA = """
CREATE TABLE IF NOT EXISTS published_file (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
"""


def published(conn: sqlite3.Connection, sha256: str) -> tuple[int, int] | None:
    """The batches (first, last seq) a file of this digest became, or None: not published."""
    row = conn.execute("SELECT first_seq, last_seq FROM published_file WHERE sha256 = ?", (sha256,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def append_file(
    conn: sqlite3.Connection, name: str, sha256: str, makes: Sequence[Callable[[int], Batch]],
    request: erasure.Request | None,
) -> tuple[list[Batch], bool]:  # fmt: skip
    """Inside one write transaction: the file's batches, its record and its erasure request; or
    nothing when a file of this digest is published already. Returns (its batches, whether new)."""
    conn.execute("BEGIN IMMEDIATE")  # the seq is taken under the write lock: never two n+1
    try:
        known = published(conn, sha256)
        if known is not None:
            rows = conn.execute("SELECT payload FROM batch WHERE seq BETWEEN ? AND ? ORDER BY seq", known).fetchall()
            conn.execute("COMMIT")
            return [Batch.model_validate_json(payload) for (payload,) in rows], False
        first = seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM batch").fetchone()[0])
        now = time.time()
        made = []
        for make in makes:
            batch = make(seq)
            conn.execute("INSERT INTO batch (seq, payload, at) VALUES (?, ?, ?)", (seq, batch.model_dump_json(), now))
            made.append(batch)
            seq += 1
        conn.execute("INSERT INTO published_file (sha256, name, first_seq, last_seq, at) VALUES (?, ?, ?, ?, ?)",
                     (sha256, name, first, seq - 1, now))  # fmt: skip
        if request is not None:
            erasure.add_request(conn, dataclasses.replace(request, before=first), now)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return made, True
