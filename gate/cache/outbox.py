"""The journal as sync's outbox: what the sync process reads and writes of a ledger (`Ledger.outbox()`).

The journal is the outbox: every row was written in the transaction of the change it records,
so nothing the lanes did can be missing from it. Sync publishes the rows the hub has not
confirmed yet (`pending`), and marks them published only once the hub confirms a high-water
mark (`confirm`): a broker's PUBACK is not durability. `published_through` (meta) is the
contiguous confirmed prefix; rows past it keep `published_at`.

- `data_version`: SQLite's counter that moves when another connection commits, so the sync
  process notices the lanes' new rows by polling it, cheaply, without reading the journal.
- `incarnation`: the ledger's own random id, made with it (schema version 3) and again on a
  restore or a rebuild, so an event's key (device, incarnation, seq) is never reused.
- `link`: sync's link state, kept as device settings (`sync.*`), for the daemons' status.

Each write is one short transaction (at most `CONFIRM_CHUNK` rows): the lanes' writers never
wait long behind sync (design: no writer holds the lock for more than 20 ms apart from a decision).
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import time
from collections.abc import Iterable

from gate.cache import peers
from gate.cache.nonces import Nonces
from gate.cache.peers import PeerRow
from gate.cache.redemptions import ADVANCE, FOLD_MARK, PUBLISHED_THROUGH, JournalEntry, journal, mark_published
from gate.cache.sql import GET_META, PUT_SETTING, SETTING_PREFIX
from gate.cache.transaction import Transactions

CONFIRM_CHUNK = 2000  # rows marked published per transaction (well under 20 ms)
_FLOOR = f"SELECT {PUBLISHED_THROUGH}"
_CONFIRM = """
UPDATE journal SET published_at = ?
WHERE seq > ? AND seq <= ? AND published_at IS NULL
"""
_DEPTH = f"SELECT count(*) FROM journal WHERE seq > {PUBLISHED_THROUGH} AND published_at IS NULL"
_NEWEST = "SELECT coalesce(max(seq), 0) FROM journal"
# The highest seq that may go: confirmed, folded, and not the newest row.
_PRUNABLE = f"SELECT min({PUBLISHED_THROUGH}, {FOLD_MARK}, ({_NEWEST}) - 1)"
_PRUNE = "DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE seq <= ? AND at < ? ORDER BY seq LIMIT ?)"


# The newest rows only (no index on ids, on purpose: the hot path writes the journal): a console
# asks about the decisions of its recent list.
_RECENT_ROWS = """
SELECT seq, id, redemption_id, coalesce(json_extract(body, '$.offline'), 0) FROM journal
WHERE seq > (SELECT coalesce(max(seq), 0) FROM journal) - ? ORDER BY seq
"""


YIELD_S = 0.01  # between two chunks of a long write


class Outbox:
    """One ledger connection's view of the journal as an outbox (the sync process's)."""

    def __init__(self, conn: sqlite3.Connection, tx: Transactions) -> None:
        self._conn = conn
        self._tx = tx

    def data_version(self) -> int:
        """Moves whenever another connection committed (PRAGMA data_version): new rows, maybe."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def incarnation(self) -> str:
        """This ledger's incarnation id (made if a ledger older than schema 3 has none)."""
        with self._tx.snapshot():
            row = self._conn.execute(GET_META, ("incarnation",)).fetchone()
        if row is not None:
            return str(row[0])
        return self.new_incarnation()

    def new_incarnation(self) -> str:
        """A new incarnation id (a restored or rebuilt ledger): its events never reuse a key."""
        value = secrets.token_hex(8)
        with self._tx.write():
            self._conn.execute(PUT_SETTING, ("incarnation", value))  # a meta row of its own, not a setting
        return value

    def marks(self, ids: Iterable[str], *, within: int = 5000) -> dict[str, str]:
        """Each decision's state with the hub: `confirmed` once the hub holds every row of it,
        else `offline` when it was decided cut off from the site, else `waiting`. Decisions
        older than the newest `within` rows are left out."""
        wanted = set(ids)
        newest: dict[str, int] = {}
        offline: set[str] = set()
        with self._tx.snapshot():
            confirmed = int(self._conn.execute(_FLOOR).fetchone()[0] or 0)
            for seq, row_id, redemption, was_offline in self._conn.execute(_RECENT_ROWS, (within,)):
                for key in (row_id, redemption):
                    if key in wanted:
                        newest[key] = seq
                        if was_offline:
                            offline.add(key)
        return {key: "confirmed" if seq <= confirmed else "offline" if key in offline else "waiting"
                for key, seq in newest.items()}  # fmt: skip

    def floor(self) -> int:
        """The highest seq such that every row up to it is confirmed (`published_through`)."""
        with self._tx.snapshot():
            return int(self._conn.execute(_FLOOR).fetchone()[0])

    def newest(self) -> int:
        with self._tx.snapshot():
            return int(self._conn.execute(_NEWEST).fetchone()[0])

    def pending(self, *, after: int = 0, limit: int = 500) -> list[JournalEntry]:
        """Rows not confirmed yet, after seq `after` (and past the floor), oldest first."""
        with self._tx.snapshot():
            return journal(self._conn, after=after, limit=limit, unpublished=True)

    def depth(self) -> int:
        """Rows waiting for the hub's confirmation."""
        with self._tx.snapshot():
            return int(self._conn.execute(_DEPTH).fetchone()[0])

    def confirm(self, through: int, *, at: dt.datetime) -> int:
        """The hub has every row up to seq `through`: mark them published, in short transactions.
        Returns the new floor."""
        floor = self.floor()
        through = min(through, self.newest())  # a mark past our newest row is another ledger's
        while floor < through:
            upto = min(through, floor + CONFIRM_CHUNK)
            with self._tx.write():
                self._conn.execute(_CONFIRM, (at.timestamp(), floor, upto))
                self._conn.execute(ADVANCE)
                floor = int(self._conn.execute(_FLOOR).fetchone()[0])
            if floor < upto:  # rows past `floor` were not ours to confirm: stop there
                break
            if floor < through:
                # The lock free a moment: back-to-back writes starve the lanes' busy handlers.
                time.sleep(YIELD_S)
        return floor

    def mark_published(self, seqs: list[int], *, at: dt.datetime) -> None:
        """Mark single rows published (out of order); the floor advances over what is contiguous."""
        with self._tx.write():
            mark_published(self._conn, seqs, at=at)

    def receive(self, device: str, rows: Iterable[PeerRow], *, hold_s: float) -> tuple[int, int]:
        """A peer's journal rows, applied in one short transaction (gate/cache/peers.py):
        (rows that changed usage here, rows refused)."""
        with self._tx.write(durable=False):
            return peers.apply(self._conn, device, rows, now=time.time(), hold_s=hold_s)

    def prune(self, before: float) -> int:
        """Journal rows older than `before` (epoch seconds) that the hub has confirmed and that are
        folded, deleted in short transactions: the privacy retention. Never the newest row (it
        carries the occupancy counter), nor a row past the fold mark (the tail reads those).
        Returns how many went."""
        gone = 0
        while True:
            with self._tx.write(durable=False):
                limit = self._conn.execute(_PRUNABLE).fetchone()[0]
                cursor = self._conn.execute(_PRUNE, (limit, before, CONFIRM_CHUNK))
            gone += cursor.rowcount
            if cursor.rowcount < CONFIRM_CHUNK:
                return gone
            time.sleep(YIELD_S)

    def peer_offline(self, device: str) -> int:
        """A peer's will says it went offline: its holds stop counting here now."""
        with self._tx.write(durable=False):
            return peers.peer_offline(self._conn, device, now=time.time())

    def nonces(self) -> Nonces:
        """Remote commands' nonces, kept until their expiry (gate/cache/nonces.py)."""
        return Nonces(self._conn, self._tx)

    def link(self, state: dict[str, str]) -> None:
        """Sync's link state as device settings (`sync.<key>`), for the daemons and `gate lane status`."""
        with self._tx.write(durable=False):
            for key, value in state.items():
                self._conn.execute(PUT_SETTING, (f"{SETTING_PREFIX}sync.{key}", value))
