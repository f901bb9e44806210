"""The ledger's staff records, read for the decision point and `gate staff list`.

Staff are stored like any other non-entitlement record (table `record`, type 'staff'), so
the import, the tombstones and the export need nothing of their own, and no schema change.
"""

from __future__ import annotations

import sqlite3

from gate.records import Staff

_STAFF = "SELECT body FROM record WHERE type = 'staff' AND id = ?"
_ALL_STAFF = "SELECT body FROM record WHERE type = 'staff' ORDER BY id"


def staff_of(cursor: sqlite3.Cursor, staff_id: str) -> Staff | None:
    row = cursor.execute(_STAFF, (staff_id,)).fetchone()
    return None if row is None else Staff.model_validate_json(row[0])


def all_staff(conn: sqlite3.Connection) -> list[Staff]:
    return [Staff.model_validate_json(body) for (body,) in conn.execute(_ALL_STAFF).fetchall()]
