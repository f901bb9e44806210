"""A snapshot's staging tables inside the ledger file, and the switch that puts them in place.

The sync process loads a snapshot (gate/sync/pull.py) into tables of its own beside the live
ones, `snapshot_record`, `snapshot_tombstone`, `snapshot_entitlement` and `snapshot_reference`,
each made from the live table's own definition (so a later migration's columns come along), in
short write transactions, while the lanes keep deciding on the live tables. Each transaction
also writes how far the load got (`sync.snapshot_at`), so a killed `gate sync` continues
from the next row. Then one short transaction switches: each live table is renamed
`replaced_<table>`, its staged twin takes its name, this gate's own voucher admissions (made
here, not in the hub's log) are carried over, and the revision is bumped, so every connection
reads the new records from its next transaction on. The file itself is never replaced: the
lanes' connections stay valid. The replaced tables are then emptied in short transactions and
dropped (their pages are reused, the file does not shrink).

Everything else stays as it is: the journal and the outbox state, holds, usage, peers' usage,
lane modes and other device settings, and the staff sessions the journal records.

The entitlement table's two indexes are made with the staged table, under the other of two
names (`entitlement_by_predecessor` or `entitlement_by_predecessor_b`): a switch alternates
them. Look indexes up by table (sqlite_schema), never by name.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gate.cache import peers
from gate.cache.exchange import BUMP_REVISION
from gate.cache.peers import PeerRow
from gate.cache.sql import GET_META, PUT_SETTING, SETTING_PREFIX
from gate.cache.transaction import Transactions

TABLES = ("record", "tombstone", "entitlement", "reference")
STAGED, REPLACED = "snapshot_", "replaced_"
MANIFEST, AT = "sync.snapshot_manifest", "sync.snapshot_at"  # device settings: the load's progress
EMPTY_STEP = 2000  # rows deleted per transaction when a replaced (or abandoned) table is emptied
_INDEX_SUFFIX = "_b"
_TABLE_SQL = "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?"
_INDEXES = "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
_LEFTOVERS = "SELECT name FROM sqlite_schema WHERE type = 'table' AND (name LIKE 'snapshot\\_%' ESCAPE '\\' OR " \
    "name LIKE 'replaced\\_%' ESCAPE '\\') ORDER BY name"  # fmt: skip
_CREATE = re.compile(r'^CREATE TABLE\s+("?)(\w+)\1', re.IGNORECASE)
_CREATE_INDEX = re.compile(r'^CREATE (UNIQUE )?INDEX\s+("?)(\w+)\2\s+ON\s+("?)(\w+)\4', re.IGNORECASE)
# Voucher admissions (a ticket whose predecessor is its voucher) the snapshot does not know at
# their version: made here by this gate's redemptions or its peers', never in the hub's log.
_OWN_ADMISSIONS = f"""
SELECT o.id, o.version, o.kind, o.holder, o.mode, o.state, o.purchased_at, o.predecessor, o.body
FROM {REPLACED}entitlement o
WHERE o.predecessor IS NOT NULL AND o.kind = 'ticket'
  AND o.version > coalesce((SELECT n.version FROM entitlement n WHERE n.id = o.id), 0)
  AND o.version > coalesce((SELECT t.version FROM tombstone t WHERE t.type = 'entitlement' AND t.id = o.id), 0)
"""
_DROP_CODES = """
DELETE FROM reference WHERE entitlement_id = ?1 AND code IN
    (SELECT value FROM json_each((SELECT body FROM entitlement WHERE id = ?1), '$.references'))
"""
_PUT_ENTITLEMENT = "INSERT OR REPLACE INTO entitlement VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_PUT_CODES = """
INSERT OR IGNORE INTO reference (code, entitlement_id) SELECT value, ?1 FROM json_each(?2, '$.references')
"""
@dataclass(frozen=True, slots=True)
class Progress:
    """How far a snapshot's load got: the manifest (JSON, None without a load under way), the
    next chunk and rows of it done, and the peers' events position applied."""

    manifest: str | None = None
    chunk: int = 0
    row: int = 0
    events: int = 0

    def at(self) -> str:
        return json.dumps({"chunk": self.chunk, "row": self.row, "events": self.events})


@dataclass(frozen=True, slots=True)
class Switched:
    kept: int  # voucher admissions made here (by this gate or from its peers' rows), carried over
    seconds: float  # the switch's transaction, commit and sync included


class Staging:
    """A ledger connection's staging tables (the sync process's own connection, as its Outbox)."""

    def __init__(self, conn: sqlite3.Connection, tx: Transactions) -> None:
        self._conn = conn
        self._tx = tx
        self._version = -1
        self.others = False  # another connection (a lane) committed before the last load or usage

    def _other_writers(self) -> None:
        """Inside a write: whether another connection committed since our last one (data_version
        moves with other connections' commits only)."""
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        self.others, self._version = self._version not in (-1, version), version

    def progress(self) -> Progress:
        with self._tx.snapshot():
            manifest = self._setting(MANIFEST)
            at = self._setting(AT)
        if not manifest:
            return Progress()
        try:
            data = json.loads(at or "{}")
            return Progress(manifest, int(data.get("chunk", 0)), int(data.get("row", 0)), int(data.get("events", 0)))
        except (ValueError, TypeError, AttributeError):
            return Progress(manifest)  # unreadable progress: start the load over

    def _setting(self, key: str) -> str | None:
        row = self._conn.execute(GET_META, (SETTING_PREFIX + key,)).fetchone()
        return None if row is None else str(row[0])

    def _put(self, key: str, value: str) -> None:
        self._conn.execute(PUT_SETTING, (SETTING_PREFIX + key, value))

    def leftovers(self) -> list[str]:
        """Staged or replaced tables still in the file (a load abandoned, a switch not cleaned up)."""
        with self._tx.snapshot():
            return [name for (name,) in self._conn.execute(_LEFTOVERS)]

    def empty_step(self, table: str) -> bool:
        """Delete up to EMPTY_STEP rows of a leftover table, or drop it once empty (one short
        transaction); False once it is gone."""
        if not table.startswith((STAGED, REPLACED)) or table not in self.leftovers():
            return False
        with self._tx.write(durable=False):
            key = "rowid" if self._has_rowid(table) else self._key(table)
            sql = f'DELETE FROM "{table}" WHERE ({key}) IN (SELECT {key} FROM "{table}" LIMIT ?)'
            gone = self._conn.execute(sql, (EMPTY_STEP,)).rowcount
            if gone < EMPTY_STEP:
                self._conn.execute(f'DROP TABLE "{table}"')
        return True

    def _has_rowid(self, table: str) -> bool:
        sql = self._conn.execute(_TABLE_SQL, (table,)).fetchone()[0]
        return "WITHOUT ROWID" not in str(sql).upper()

    def _key(self, table: str) -> str:
        columns = sorted((row[5], row[1]) for row in self._conn.execute(f'PRAGMA table_info("{table}")') if row[5])
        return ", ".join(name for _, name in columns)

    def begin(self, manifest: str, *, events: int) -> None:
        """Make the staging tables (no leftover may remain: `empty_step` them first) and note the
        load under way, in one transaction."""
        with self._tx.write():
            for table in TABLES:
                self._conn.execute(self._staged_sql(table))
                for name, sql in self._conn.execute(_INDEXES, (table,)).fetchall():
                    self._conn.execute(self._staged_index_sql(name, str(sql)))
            self._put(MANIFEST, manifest)
            self._put(AT, Progress(manifest, events=events).at())

    def _staged_sql(self, table: str) -> str:
        sql = str(self._conn.execute(_TABLE_SQL, (table,)).fetchone()[0])
        return _CREATE.sub(f"CREATE TABLE {STAGED}{table}", sql, count=1)

    @staticmethod
    def _staged_index_sql(name: str, sql: str) -> str:
        other = name[: -len(_INDEX_SUFFIX)] if name.endswith(_INDEX_SUFFIX) else name + _INDEX_SUFFIX
        made = lambda m: f"CREATE {m.group(1) or ''}INDEX {other} ON {STAGED}{m.group(5)}"  # noqa: E731
        return _CREATE_INDEX.sub(made, sql, count=1)

    def staged_matches(self) -> bool:
        """Whether the staged tables have their live twins' columns (a gate upgraded mid-load has not)."""
        with self._tx.snapshot():
            for table in TABLES:
                live = self._conn.execute(f"PRAGMA table_info({table})").fetchall()
                if self._conn.execute(f"PRAGMA table_info({STAGED}{table})").fetchall() != live:
                    return False
        return True

    def load(self, table: str, rows: Sequence[Sequence[Any]], progress: Progress) -> None:
        """Rows of one table into its staging twin, and the progress after them: one short write
        (no sync: a power cut loses both together). sqlite3.ProgrammingError: a row of another width."""
        marks = ", ".join("?" * len(rows[0])) if rows else ""
        with self._tx.write(durable=False):
            self._other_writers()
            if rows:
                self._conn.executemany(f"INSERT INTO {STAGED}{table} VALUES ({marks})", rows)
            self._put(AT, progress.at())

    def usage(
        self, groups: Iterable[tuple[str, Sequence[PeerRow]]], progress: Progress, *, hold_s: float
    ) -> tuple[int, int]:
        """Peers' usage rows, each device's in their order (as a peer's live rows: forward only, so
        a row known already changes nothing), and the progress after them, in one short write:
        (rows that changed usage, rows refused)."""
        changed = bad = 0
        with self._tx.write(durable=False):
            self._other_writers()
            now = time.time()
            for device, rows in groups:
                done, refused = peers.apply(self._conn, device, rows, now=now, hold_s=hold_s)
                changed, bad = changed + done, bad + refused
            self._put(AT, progress.at())
        return changed, bad

    def note(self, progress: Progress) -> None:
        with self._tx.write(durable=False):
            self._put(AT, progress.at())

    def check(self, expected: dict[str, int]) -> str | None:
        """None when every staged table holds the manifest's count of rows (each chunk's rows were
        checked, column by column, before they were staged); else what is wrong. A read: the
        lanes' writers do not wait for it."""
        with self._tx.snapshot():
            for table in TABLES:
                count = self._conn.execute(f"SELECT count(*) FROM {STAGED}{table}").fetchone()[0]
                if count != expected.get(table, 0):
                    return f"table {table}: {count} row(s) staged, the manifest says {expected.get(table, 0)}"
        return None

    def switch(self, settings: dict[str, str]) -> Switched:
        """The staged tables in place of the live ones, in one short durable transaction that also
        keeps `settings` (the batch the snapshot stands for, ...) and ends the load."""
        started = time.perf_counter()
        with self._tx.write():
            for table in TABLES:
                self._conn.execute(f"ALTER TABLE {table} RENAME TO {REPLACED}{table}")
                self._conn.execute(f"ALTER TABLE {STAGED}{table} RENAME TO {table}")
            kept = 0
            for row in self._conn.execute(_OWN_ADMISSIONS).fetchall():
                self._conn.execute(_DROP_CODES, (row[0],))
                self._conn.execute(_PUT_ENTITLEMENT, row)
                self._conn.execute(_PUT_CODES, (row[0], row[8]))
                kept += 1
            self._conn.execute(BUMP_REVISION)
            self._end(settings)
        return Switched(kept, time.perf_counter() - started)

    def finish(self, settings: dict[str, str]) -> None:
        """The load is abandoned: its progress goes (its tables are leftovers now), `settings` are kept."""
        with self._tx.write():
            self._end(settings)

    def _end(self, settings: dict[str, str]) -> None:
        self._conn.execute(f"DELETE FROM meta WHERE key IN ('{SETTING_PREFIX}{MANIFEST}', '{SETTING_PREFIX}{AT}')")
        for key, value in settings.items():
            self._put(key, value)
