"""Reporting over the ledger: statistics for the health view, member activity, bulk usage loads.

None of this is on the decision path, so it favours clarity over shaving microseconds.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from gate.cache.errors import LedgerError
from gate.cache.occupancy import SITE_INSIDE
from gate.cache.schema import SCHEMA_VERSION, release_memory
from gate.decision import Use
from gate.records import RECORD_TYPES

_ACTIVITY = """
SELECT seq, part, entitlement_id, at, direction, persons, credits, performance, event, benefit, lane, zone
FROM usage WHERE entitlement_id IN (SELECT value FROM json_each(?))
"""
_PREDECESSOR = "SELECT predecessor FROM entitlement WHERE id = ?"
_STAGE_USES = (
    "DROP TABLE IF EXISTS temp.usage_stage",
    """CREATE TEMP TABLE usage_stage (
        entitlement_id TEXT NOT NULL, part INTEGER NOT NULL, at REAL NOT NULL, direction TEXT NOT NULL,
        persons INTEGER NOT NULL, credits INTEGER NOT NULL, performance TEXT, event TEXT, benefit INTEGER,
        lane TEXT NOT NULL, zone TEXT NOT NULL
    )""",
)
_INSERT_STAGE = "INSERT INTO temp.usage_stage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# In key order, so the clustered table is filled page after page instead of at random.
_MERGE_USES = """
INSERT INTO main.usage (entitlement_id, seq, part, at, direction, persons, credits, performance, event, benefit,
                        lane, zone)
SELECT entitlement_id, 0, part, at, direction, persons, credits, performance, event, benefit, lane, zone
FROM temp.usage_stage ORDER BY entitlement_id, part
"""
_BULK_COUNT = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'bulk_uses'"
_BULK_COUNTED = "UPDATE meta SET value = ? WHERE key = 'bulk_uses'"
_FINISHED = """
SELECT type, count(*) FROM journal WHERE type IN ('redemption.committed', 'redemption.released') GROUP BY type
"""


def stats(conn: sqlite3.Connection, path: Path, tail: tuple[int, int, int]) -> dict[str, Any]:
    """Counts an operator checks a ledger by, in the caller's snapshot; `tail` is the in-memory
    tail's (open holds, their uses, committed uses not folded yet)."""

    def count(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    records = dict.fromkeys(RECORD_TYPES, 0)
    records.update(conn.execute("SELECT type, count(*) FROM record GROUP BY type").fetchall())
    kinds = dict(conn.execute("SELECT kind, count(*) FROM entitlement GROUP BY kind").fetchall())
    records["entitlement"] = sum(kinds.values())
    redemptions = dict.fromkeys(("held", "committed", "released"), 0)
    holds, held_uses, unfolded_uses = tail
    redemptions["held"] = holds
    for type_, n in conn.execute(_FINISHED).fetchall():
        redemptions[type_.removeprefix("redemption.")] = n
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]

    result: dict[str, Any] = {
        "path": str(path),
        "schema_version": SCHEMA_VERSION,
        "revision": int(meta.get("revision", 0)),
        "file_bytes": page_size * pages,
        "records": records,
        "entitlements": kinds,
        "references": count("SELECT count(*) FROM reference"),
        "tombstones": count("SELECT count(*) FROM tombstone"),
        "usage": count("SELECT count(*) FROM usage") + unfolded_uses + held_uses,
        "usage_held": held_uses,
        "redemptions": redemptions,
        "journal": count("SELECT count(*) FROM journal"),
        "journal_unpublished": count(
            "SELECT count(*) FROM journal WHERE published_at IS NULL AND seq > "
            "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'published_through')"
        ),
        "inside": count(SITE_INSIDE),
    }
    return result


def lineage(conn: sqlite3.Connection, entitlement_id: str) -> list[str]:
    """The entitlement and those it took over from (renewed memberships, a redeemed voucher)."""
    chain = [entitlement_id]
    while (row := conn.execute(_PREDECESSOR, (chain[-1],)).fetchone()) and row[0] and row[0] not in chain:
        chain.append(row[0])
    return chain


def activity(conn: sqlite3.Connection, ids: list[str], unfolded: list[tuple[int, int, Use]]) -> list[Use]:
    """Committed uses of these entitlements, newest first: folded ones and `unfolded` (seq, part, use)."""
    found = [(seq, part, Use(*row)) for seq, part, *row in conn.execute(_ACTIVITY, (json.dumps(ids),))]
    found.extend(unfolded)
    found.sort(key=lambda entry: (entry[2].at, entry[0], entry[1]), reverse=True)
    return [use for _, _, use in found]


def bulk_insert_uses(conn: sqlite3.Connection, uses: Iterable[Use], *, chunk: int = 100_000) -> int:
    """Load committed uses without redemptions, for benchmarks and tests only.

    The rows are staged in a temporary table, then merged sorted by key: one sort is much
    cheaper than millions of insertions at random places of the clustered table. Each gets
    the next number of meta.bulk_uses as its `part`, which keeps keys unique across loads.
    """
    for statement in _STAGE_USES:
        conn.execute(statement)
    inserted = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        base = int(conn.execute(_BULK_COUNT).fetchone()[0])
        rows = ((use.entitlement_id, base + n, *use[1:-1]) for n, use in enumerate(uses, start=1))
        while batch := list(islice(rows, chunk)):
            conn.executemany(_INSERT_STAGE, batch)
            inserted += len(batch)
        conn.execute(_MERGE_USES)
        conn.execute(_BULK_COUNTED, (str(base + inserted),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.usage_stage")
        release_memory(conn)
    return inserted


def backup(conn: sqlite3.Connection, target: Path) -> None:
    """Copy the ledger to `target` as one consistent snapshot (see `Ledger.backup`)."""
    try:
        # Holder data: readable by the owner only, made before SQLite opens it.
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise LedgerError(f"{target} exists; a backup never overwrites a file") from None
    except OSError as exc:
        raise LedgerError(f"cannot back up to {target}: {exc.strerror or exc}") from exc
    try:
        with sqlite3.connect(target) as copy:
            conn.backup(copy)
        copy.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)  # never a half copy that looks like a backup
        raise LedgerError(f"cannot back up to {target}: {exc}") from exc
