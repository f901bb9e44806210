"""Import and export of the exchange format (docs/ledger-format.md).

An import runs in two phases. First every line is validated and staged into a temporary
table of this connection: that takes the ledger's write lock not at all, so a running
daemon keeps admitting while a big file is checked. Then, only if nothing was wrong, one
write transaction merges the staged rows with set-based SQL (version comparisons, tombstones,
references), so a million entitlements cost a few statements, not a million round trips.
A big file's lines are validated by worker processes (`pool`), the same checks in parallel.

Which line wins depends on nothing but the lines, so files applied in any order end in the
same ledger: the highest version; at equal versions a tombstone, else the line that sorts
last as the export writes it (`type`, `kind`, then the stored body). Two records that differ
at one version are a conflict (two kiosks cut off from each other can both write version 1):
the import applies the winner and reports each conflict as a warning, by line and field.
"""

from __future__ import annotations

import heapq
import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from gate.cache import conflicts, pool
from gate.cache.codec import exchange_line, tombstone_line
from gate.cache.errors import ImportProblem, LedgerImportError
from gate.cache.schema import release_memory
from gate.cache.sql import PUT_SETTING, SETTING_PREFIX
from gate.cache.validate import FORMAT, FORMAT_VERSION, LineChecker, NumberedLine, Problems, Staged
from gate.records import RECORD_TYPES

Settings = dict[str, str] | None  # device settings kept with an import (Ledger.import_lines)

log = logging.getLogger("gate.cache")

CHUNK = 20_000
IMPORT_CACHE_KIB = 64 * 1024

_CREATE_STAGE = (
    "DROP TABLE IF EXISTS temp.import_stage",
    "DROP TABLE IF EXISTS temp.import_best",
    "DROP TABLE IF EXISTS temp.import_tomb",
    """CREATE TEMP TABLE import_stage (
        type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
        line INTEGER NOT NULL, body TEXT, kind TEXT, holder TEXT, mode TEXT, state TEXT,
        purchased_at REAL, predecessor TEXT, product TEXT, flag INTEGER NOT NULL
    )""",
)
# Built once staging is done: one sort instead of a random B-tree insertion per line.
_INDEX_STAGE = "CREATE INDEX temp.import_stage_key ON import_stage (type, id, version)"
_DROP_STAGE = (
    "DROP TABLE IF EXISTS temp.import_stage",
    "DROP TABLE IF EXISTS temp.import_best",
    "DROP TABLE IF EXISTS temp.import_tomb",
)
_STAGE = """
INSERT INTO temp.import_stage (type, id, version, deleted, line, body, kind, holder, mode, state,
                               purchased_at, predecessor, product, flag)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_PRODUCTS = """
SELECT id, version, deleted, coalesce(body, ''), flag FROM temp.import_stage WHERE type = 'product'
UNION ALL
SELECT id, version, 0, body, json_extract(body, '$.validity') IS NOT NULL FROM main.record WHERE type = 'product'
UNION ALL
SELECT id, version, 1, '', 0 FROM main.tombstone WHERE type = 'product'
"""
_NO_EXPIRY = """
SELECT line, product FROM temp.import_stage
WHERE type = 'entitlement' AND flag = 1 AND (product IS NULL OR product IN (SELECT value FROM json_each(?)))
ORDER BY line LIMIT ?
"""
_STORED_VERSION = """
coalesce(CASE WHEN s.type = 'entitlement'
              THEN (SELECT e.version FROM main.entitlement e WHERE e.id = s.id)
              ELSE (SELECT r.version FROM main.record r WHERE r.type = s.type AND r.id = s.id) END, 0)
"""
_STORED_TOMBSTONE = "coalesce((SELECT t.version FROM main.tombstone t WHERE t.type = s.type AND t.id = s.id), 0)"
# The newest staged record of each key: `srow` points at its staged row (so bodies are not
# copied once more; `conflicts` points it at the winner when several differ at that version),
# `stored` is the stored record's version, `dead` the newest deletion known, stored or staged.
# It applies when newer than both, or at the stored version when it wins the conflict (`wins`).
_BEST = (
    """CREATE TEMP TABLE import_best (
        type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, srow INTEGER NOT NULL,
        stored INTEGER NOT NULL, dead INTEGER NOT NULL, wins INTEGER NOT NULL DEFAULT 0,
        applied INTEGER AS (version > dead AND (version > stored OR wins)) VIRTUAL
    )""",
    f"""INSERT INTO temp.import_best (type, id, version, srow, stored, dead)
    SELECT s.type, s.id, s.version, s.srow, {_STORED_VERSION},
           max({_STORED_TOMBSTONE}, coalesce((SELECT max(d.version) FROM temp.import_stage d
                                              WHERE d.type = s.type AND d.id = s.id AND d.deleted = 1), 0))
    FROM (SELECT type, id, max(version) AS version, rowid AS srow
          FROM temp.import_stage WHERE deleted = 0 GROUP BY type, id) AS s""",
)
# A tombstone is stored when newer than the stored one. It deletes a stored record of its
# version or lower (at equal versions a deletion wins), and counts as a deletion when it is
# stored or deletes, and no staged record is newer.
_TOMB = f"""
CREATE TEMP TABLE import_tomb AS
SELECT type, id, version, newer,
       (newer OR stored > 0) AND version >= stored
       AND version >= coalesce((SELECT b.version FROM temp.import_best b WHERE b.type = t.type AND b.id = t.id), 0)
       AS effective
FROM (SELECT s.type, s.id, s.version, s.version > {_STORED_TOMBSTONE} AS newer, {_STORED_VERSION} AS stored
      FROM (SELECT type, id, max(version) AS version FROM temp.import_stage WHERE deleted = 1 GROUP BY type, id) AS s
     ) AS t
"""
_COUNTS = """
SELECT type, 'applied', count(*) FROM temp.import_best WHERE applied GROUP BY type
UNION ALL SELECT type, 'deleted', count(*) FROM temp.import_tomb WHERE effective GROUP BY type
UNION ALL SELECT '', 'tombstones', count(*) FROM temp.import_tomb WHERE newer
"""
_MERGE = (
    # References first, while the old bodies still say which codes to remove.
    """DELETE FROM main.reference WHERE (code, entitlement_id) IN (
        SELECT j.value, e.id FROM temp.import_best b JOIN main.entitlement e ON e.id = b.id,
               json_each(e.body, '$.references') j
        WHERE b.type = 'entitlement' AND b.applied
        UNION ALL
        SELECT j.value, e.id FROM temp.import_tomb t JOIN main.entitlement e ON e.id = t.id,
               json_each(e.body, '$.references') j
        WHERE t.type = 'entitlement' AND t.version >= e.version)""",
    """DELETE FROM main.entitlement WHERE id IN (
        SELECT e.id FROM temp.import_tomb t JOIN main.entitlement e ON e.id = t.id
        WHERE t.type = 'entitlement' AND t.version >= e.version)""",
    """DELETE FROM main.record WHERE (type, id) IN (
        SELECT r.type, r.id FROM temp.import_tomb t JOIN main.record r ON r.type = t.type AND r.id = t.id
        WHERE t.version >= r.version)""",
    """INSERT INTO main.tombstone (type, id, version)
        SELECT type, id, version FROM temp.import_tomb WHERE newer
        ON CONFLICT (type, id) DO UPDATE SET version = excluded.version""",
    """INSERT INTO main.record (type, id, version, body)
        SELECT s.type, s.id, s.version, s.body FROM temp.import_best b JOIN temp.import_stage s ON s.rowid = b.srow
        WHERE b.applied AND b.type != 'entitlement'
        ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, body = excluded.body""",
    """INSERT INTO main.entitlement (id, version, kind, holder, mode, state, purchased_at, predecessor, body)
        SELECT s.id, s.version, s.kind, s.holder, s.mode, s.state, s.purchased_at, s.predecessor, s.body
        FROM temp.import_best b JOIN temp.import_stage s ON s.rowid = b.srow
        WHERE b.applied AND b.type = 'entitlement'
        ON CONFLICT (id) DO UPDATE SET version = excluded.version, kind = excluded.kind, holder = excluded.holder,
            mode = excluded.mode, state = excluded.state, purchased_at = excluded.purchased_at,
            predecessor = excluded.predecessor, body = excluded.body""",
    # Sorted by key: B-tree insertions in order touch each page once.
    """INSERT OR IGNORE INTO main.reference (code, entitlement_id)
        SELECT j.value, b.id FROM temp.import_best b JOIN temp.import_stage s ON s.rowid = b.srow,
               json_each(s.body, '$.references') j
        WHERE b.applied AND b.type = 'entitlement' ORDER BY 1, 2""",
)
BUMP_REVISION = "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'"


@dataclass(frozen=True)
class ImportReport:
    """What an import did, per record type."""

    source: str
    applied: dict[str, int] = field(default_factory=dict)  # records new or newer than the stored version
    unchanged: dict[str, int] = field(default_factory=dict)  # lines with nothing newer to say
    deleted: dict[str, int] = field(default_factory=dict)  # tombstones that removed (or pre-empted) a record
    lines: int = 0  # record and tombstone lines read
    seconds: float = 0.0
    revision: int = 0  # the ledger's revision afterwards
    # Conflicts settled by the rule (two records differing at one version), by line and field:
    # the first MAX_PROBLEMS of them, and how many there were.
    warnings: tuple[ImportProblem, ...] = ()
    warned: int = 0

    @property
    def changed(self) -> bool:
        return any(self.applied.values()) or any(self.deleted.values())

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """A few lines for an operator: the totals, then what happened per type."""
        parts = []
        for type_ in RECORD_TYPES:
            counts = [(self.applied.get(type_, 0), "applied"), (self.deleted.get(type_, 0), "deleted"),
                      (self.unchanged.get(type_, 0), "unchanged")]  # fmt: skip
            shown = ", ".join(f"{n} {what}" for n, what in counts if n)
            if shown:
                parts.append(f"  {type_}: {shown}")
        head = f"{self.source}: {self.lines} line(s) in {self.seconds:.2f} s, revision {self.revision}"
        parts.extend(f"  warning: {warning}" for warning in self.warnings)
        if self.warned > len(self.warnings):
            parts.append(f"  ... and {self.warned - len(self.warnings)} more warning(s)")
        return "\n".join([head, *parts])


def import_numbered(
    conn: sqlite3.Connection, lines: Iterable[NumberedLine], *, source: str, workers: int = 0, settings: Settings = None
) -> ImportReport:
    """Validate every line, then apply all of them in one transaction, or raise and change nothing.

    With `workers`, lines are validated in that many worker processes (see `pool`). `settings`
    (device settings: a sync batch's seq and key changes) are kept in the same transaction.
    """
    started = time.perf_counter()
    checker = LineChecker()
    warnings = Problems()
    for statement in _CREATE_STAGE:
        conn.execute(statement)
    # Staged rows live in a temporary file, and a big merge touches many index pages: bigger
    # caches for the import's duration keep both off the disk.
    main_cache = conn.execute("PRAGMA main.cache_size").fetchone()[0]
    temp_cache = conn.execute("PRAGMA temp.cache_size").fetchone()[0]
    conn.execute(f"PRAGMA temp.cache_size = {-IMPORT_CACHE_KIB}")
    conn.execute(f"PRAGMA main.cache_size = {-IMPORT_CACHE_KIB}")
    try:
        _stage(conn, lines, checker, workers)
        conn.execute("BEGIN IMMEDIATE")
        try:
            winners = _check_across_lines(conn, checker.problems, warnings)
            if checker.problems.total:
                raise LedgerImportError(source, checker.problems.sorted(), checker.problems.total)
            applied, deleted, tombstones = _merge(conn, winners, warnings)
            if applied or deleted or tombstones:
                conn.execute(BUMP_REVISION)
            revision = int(conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()[0])
            for key, value in (settings or {}).items():
                conn.execute(PUT_SETTING, (SETTING_PREFIX + key, value))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        for statement in _DROP_STAGE:
            conn.execute(statement)
        conn.execute(f"PRAGMA main.cache_size = {int(main_cache)}")
        conn.execute(f"PRAGMA temp.cache_size = {int(temp_cache)}")
        release_memory(conn)
    unchanged = {t: n - applied.get(t, 0) - deleted.get(t, 0) for t, n in checker.lines.items()}
    report = ImportReport(
        source=source,
        applied=dict(applied),
        unchanged={t: n for t, n in unchanged.items() if n},
        deleted=dict(deleted),
        lines=sum(checker.lines.values()),
        seconds=time.perf_counter() - started,
        revision=revision,
        warnings=tuple(warnings.sorted()),
        warned=warnings.total,
    )
    for warning in report.warnings:
        log.warning("import %s: %s", source, warning)
    log.info(
        "import %s: %d applied, %d deleted, %d unchanged in %.2f s (revision %d)",
        source, sum(applied.values()), sum(deleted.values()), sum(unchanged.values()), report.seconds, revision,
    )  # fmt: skip
    return report


def _stage(conn: sqlite3.Connection, lines: Iterable[NumberedLine], checker: LineChecker, workers: int) -> None:
    batches = pool.checked(lines, checker, workers) if workers > 1 else _checked(lines, checker)
    # One transaction for the temporary table only: the ledger itself is not locked.
    conn.execute("BEGIN")
    try:
        for batch in batches:
            conn.executemany(_STAGE, batch)
        conn.execute(_INDEX_STAGE)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _checked(lines: Iterable[NumberedLine], checker: LineChecker) -> Iterator[Sequence[Sequence[Any]]]:
    batch: list[Staged] = []
    for item in lines:
        staged = checker.check_numbered(item)
        if staged is not None:
            batch.append(staged)
            if len(batch) >= CHUNK:
                yield batch
                batch = []
    yield batch


def _check_across_lines(
    conn: sqlite3.Connection, problems: Problems, warnings: Problems
) -> dict[conflicts.Key, int]:
    """Problems that span lines; warns of conflicts and returns their winners (`conflicts`)."""
    winners = conflicts.within_file(conn, warnings)
    products: dict[str, tuple[int, int, str, int]] = {}
    for id_, version, deleted, body, has_validity in conn.execute(_PRODUCTS):
        # The product the import will leave: the highest version; at the same version a
        # deletion, else the body that sorts last (`conflicts`).
        if id_ not in products or (version, deleted, body) > products[id_][:3]:
            products[id_] = (version, deleted, body, has_validity)
    no_validity = [id_ for id_, (_, deleted, _, has_validity) in products.items() if not deleted and not has_validity]
    for line, product in conn.execute(_NO_EXPIRY, (json.dumps(no_validity), 1000)):
        if product is None:
            problems.add(line, "expires_on", "required when the membership has no product to compute it from")
        else:
            problems.add(line, "expires_on", f"required: product {product!r} has no validity to compute it from")
    return winners


def _merge(
    conn: sqlite3.Connection, winners: dict[conflicts.Key, int], warnings: Problems
) -> tuple[Counter[str], Counter[str], int]:
    for statement in _BEST:
        conn.execute(statement)
    conn.execute("CREATE INDEX temp.import_best_key ON import_best (type, id)")
    conflicts.against_stored(conn, winners, warnings)
    conn.execute(_TOMB)
    applied: Counter[str] = Counter()
    deleted: Counter[str] = Counter()
    tombstones = 0
    for type_, what, count in conn.execute(_COUNTS).fetchall():
        if what == "applied":
            applied[type_] = count
        elif what == "deleted":
            deleted[type_] = count
        else:
            tombstones = count
    if applied or deleted or tombstones:
        for statement in _MERGE:
            conn.execute(statement)
    return applied, deleted, tombstones


# --- export ---------------------------------------------------------------------------------

HEADER = json.dumps({"type": "header", "format": FORMAT, "version": FORMAT_VERSION}, separators=(",", ":"))
_RECORDS_OF = "SELECT id, version, NULL, body FROM record WHERE type = ? ORDER BY id"
_ENTITLEMENTS = "SELECT id, version, kind, body FROM entitlement ORDER BY id"
_TOMBSTONES_OF = "SELECT id, version, NULL, NULL FROM tombstone WHERE type = ? ORDER BY id"


def export(conn: sqlite3.Connection, out: TextIO) -> int:
    """Write the header, then every record and tombstone in type order, then id; returns the count."""
    written = 0
    out.write(HEADER + "\n")
    conn.execute("BEGIN")  # one snapshot, even while the daemon writes
    try:
        for type_ in RECORD_TYPES:
            records: Iterator[tuple[str, int, str | None, str | None]] = (
                conn.execute(_ENTITLEMENTS) if type_ == "entitlement" else conn.execute(_RECORDS_OF, (type_,))
            )
            tombstones = conn.cursor().execute(_TOMBSTONES_OF, (type_,))
            for id_, version, kind, body in heapq.merge(records, tombstones, key=lambda row: (row[0], row[1])):
                if body is None:
                    out.write(tombstone_line(type_, id_, version) + "\n")
                else:
                    out.write(exchange_line(type_, kind, body) + "\n")
                written += 1
    finally:
        conn.execute("COMMIT")
    return written
