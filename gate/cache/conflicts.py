"""Two different records at one version: which one a ledger keeps, and the warning saying so.

Versions grow at the source, so the same type, id and version should say the same thing. Once
sync exists they will not always: two kiosks cut off from each other can both create the same
admission at version 1. The ledger must then end the same whatever order the two arrive in,
so the winner depends on the two records alone: the one whose line, as the export writes it
(`type`, `kind`, then the stored body), sorts last. Bodies are canonical (validated, then
written by pydantic in field order without defaults), so two lines that mean the same thing
are not a conflict. A tombstone at the version beats any record there, without a warning.

Neither conflict refuses the file: each is a warning in the import report, on the line that
lost (or, when a line replaced a stored record, on that line), naming the fields that differ.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from gate.cache.validate import Problems

Content = tuple[str, str]  # kind ("" for records other than entitlements), stored body
Key = tuple[str, str, int]  # type, id, version

# Staged lines sharing a type, id and version; identical ones are harmless (a file repeated).
_REPEATED = "SELECT type, id, version FROM temp.import_stage GROUP BY type, id, version HAVING count(*) > 1"
_REPEATS = """
SELECT rowid, line, deleted, coalesce(kind, ''), body FROM temp.import_stage
WHERE type = ? AND id = ? AND version = ? ORDER BY line
"""
_POINT = "UPDATE temp.import_best SET srow = ? WHERE type = ? AND id = ? AND version = ?"
# The staged winner of each key whose stored record has its version (and no deletion beats
# both) but says something else; identical re-imports are filtered out here, in SQL.
_AGAINST_STORED = """
SELECT b.rowid, b.type, b.id, b.version, s.line, coalesce(s.kind, ''), s.body,
       coalesce(e.kind, ''), coalesce(e.body, r.body)
FROM temp.import_best b JOIN temp.import_stage s ON s.rowid = b.srow
LEFT JOIN main.entitlement e ON b.type = 'entitlement' AND e.id = b.id
LEFT JOIN main.record r ON b.type != 'entitlement' AND r.type = b.type AND r.id = b.id
WHERE b.version = b.stored AND b.version > b.dead
  AND (coalesce(s.kind, '') != coalesce(e.kind, '') OR s.body != coalesce(e.body, r.body))
"""
_WINS = "UPDATE temp.import_best SET wins = 1 WHERE rowid = ?"
_RULE = "of two records at one version, the one whose line sorts last is kept"


def within_file(conn: sqlite3.Connection, warnings: Problems) -> dict[Key, int]:
    """Warn of staged lines that differ at one version; the staged row of each such key's winner."""
    winners: dict[Key, int] = {}
    for type_, id_, version in conn.execute(_REPEATED).fetchall():
        rows = conn.execute(_REPEATS, (type_, id_, version)).fetchall()
        if any(deleted for _, _, deleted, _, _ in rows):
            continue  # deleted at this version: whatever the records said, they are gone
        first: dict[Content, tuple[int, int]] = {}  # each content's first staged row and line
        for rowid, line, _, kind, body in rows:
            first.setdefault((kind, body), (rowid, line))
        if len(first) < 2:
            continue
        best = max(first)
        winners[(type_, id_, version)] = first[best][0]
        kept = first[best][1]
        for content, (_, line) in first.items():
            if content != best:
                message = f"{type_} {id_!r} version {version} differs from line {kept}, which is kept ({_RULE})"
                warnings.add(line, differing(content, best), message)
    return winners


def against_stored(conn: sqlite3.Connection, winners: dict[Key, int], warnings: Problems) -> None:
    """Point `import_best` at each key's winner, then settle the keys whose stored record has
    the staged version but other content (sets `wins` where the staged line wins)."""
    for (type_, id_, version), rowid in winners.items():
        conn.execute(_POINT, (rowid, type_, id_, version))
    for brow, type_, id_, version, line, kind, body, stored_kind, stored_body in conn.execute(_AGAINST_STORED):
        ours, theirs = (kind, body), (stored_kind, stored_body)
        where = f"{type_} {id_!r} version {version} differs from the stored record of that version"
        if ours > theirs:
            conn.execute(_WINS, (brow,))
            warnings.add(line, differing(ours, theirs), f"{where}, and replaces it ({_RULE})")
        else:
            warnings.add(line, differing(ours, theirs), f"{where}, which is kept ({_RULE})")


def differing(a: Content, b: Content) -> str:
    """The top-level fields two records differ in, comma-separated ("kind" first when it does)."""
    fields = ["kind"] if a[0] != b[0] else []
    one, other = _fields(a[1]), _fields(b[1])
    fields += sorted(key for key in one.keys() | other.keys() if one.get(key) != other.get(key))
    return ",".join(fields)


def _fields(body: str) -> dict[str, Any]:
    data = json.loads(body)
    return data if isinstance(data, dict) else {}
