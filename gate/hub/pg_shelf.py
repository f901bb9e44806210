"""The snapshots the hub keeps for gates, and events' positions, on PostgreSQL (gate/hub/shelf.py's
`Shelf` on a venue's rows; `PostgresHubStore.snapshots()` gives one).

Positions are taken under the venue's row lock as events are stored (gate/hub/postgres.py), so
they grow in the order events commit: a gate asking for the events after a position gets every
one stored since, none twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from gate.hub.shelf import USAGE_TYPES, Kept, Stored

Transaction = Callable[[], contextlib.AbstractContextManager[psycopg.Cursor[Any]]]

_USAGE = f"""
SELECT pos, device, incarnation, type, redemption_id, body FROM event
WHERE site = %s AND pos > %s AND pos <= %s AND NOT repeat AND type IN {USAGE_TYPES!r}
  AND (type IN ('redemption.committed', 'redemption.voided') OR at >= %s)
ORDER BY pos LIMIT %s
"""
# The snapshots past the newest `keep` go with their chunks; chunks of no snapshot are left:
# another hub of the venue may be writing them for a snapshot it has not saved yet.
_STALE = """
WITH gone AS (
    DELETE FROM snapshot WHERE site = %s AND id IN (SELECT id FROM snapshot WHERE site = %s ORDER BY at DESC OFFSET %s)
    RETURNING id
)
DELETE FROM snapshot_chunk c USING gone WHERE c.site = %s AND c.snapshot = gone.id
"""
_PUT_CHUNK = """
INSERT INTO snapshot_chunk (site, snapshot, idx, data) VALUES (%s, %s, %s, %s)
ON CONFLICT (site, snapshot, idx) DO UPDATE SET data = excluded.data
"""


class PostgresShelf:
    def __init__(self, tx: Transaction, site: str) -> None:
        self._tx = tx
        self._site = site

    def position(self) -> int:
        with self._tx() as cur:
            row = cur.execute("SELECT coalesce(max(pos), 0) FROM event WHERE site = %s", (self._site,)).fetchone()
        return int(row[0]) if row else 0

    def usage(self, after: int, *, through: int, holds_since: float, limit: int) -> list[Stored]:
        with self._tx() as cur:
            rows = cur.execute(_USAGE, (self._site, after, through, holds_since, limit)).fetchall()
        return [Stored(*row) for row in rows]

    def put_chunks(self, snapshot: str, chunks: Sequence[tuple[int, bytes]]) -> None:
        with self._tx() as cur:
            cur.executemany(_PUT_CHUNK, [(self._site, snapshot, index, data) for index, data in chunks])

    def put(self, kept: Kept, *, keep: int) -> None:
        with self._tx() as cur:
            cur.execute("INSERT INTO snapshot (site, id, seq, at, manifest) VALUES (%s, %s, %s, %s, %s)",
                        (self._site, *kept))  # fmt: skip
            cur.execute(_STALE, (self._site, self._site, keep, self._site))

    def newest(self) -> Kept | None:
        query = "SELECT id, seq, at, manifest FROM snapshot WHERE site = %s ORDER BY at DESC LIMIT 1"
        with self._tx() as cur:
            row = cur.execute(query, (self._site,)).fetchone()
        return None if row is None else Kept(*row)

    def get(self, snapshot: str) -> Kept | None:
        with self._tx() as cur:
            row = cur.execute("SELECT id, seq, at, manifest FROM snapshot WHERE site = %s AND id = %s",
                              (self._site, snapshot)).fetchone()  # fmt: skip
        return None if row is None else Kept(*row)

    def chunk(self, snapshot: str, index: int) -> bytes | None:
        with self._tx() as cur:
            row = cur.execute("SELECT data FROM snapshot_chunk WHERE site = %s AND snapshot = %s AND idx = %s",
                              (self._site, snapshot, index)).fetchone()  # fmt: skip
        return None if row is None else bytes(row[0])

    def drop(self, snapshot: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM snapshot WHERE site = %s AND id = %s", (self._site, snapshot))
            cur.execute("DELETE FROM snapshot_chunk WHERE site = %s AND snapshot = %s", (self._site, snapshot))

    def erased_at(self) -> float:
        with self._tx() as cur:
            row = cur.execute("SELECT coalesce(max(at), 0) FROM erasure WHERE site = %s", (self._site,)).fetchone()
        return float(row[0]) if row else 0.0
