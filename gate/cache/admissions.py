"""The admission a voucher's redemption creates: a ledger record made on the device, not imported.

The kiosk that redeems makes it in the redemption's transaction; every peer makes it again
from the kiosk's committed journal row (gate/cache/peers.py), so the voucher's code opens the
lanes of every device. Versions decide as an import's do: a newer record or a tombstone is
kept; two different admissions at one version (two kiosks cut off from each other, one voucher)
are settled by the import's own rule, so every device ends with the same one.
"""

from __future__ import annotations

import logging
import sqlite3

from gate.cache.codec import entitlement_row
from gate.records import Ticket

log = logging.getLogger("gate.cache")

Statements = sqlite3.Connection | sqlite3.Cursor


def create_admission(conn: Statements, ticket: Ticket, *, voucher: str | None) -> bool:
    """The admission a voucher's redemption creates, as a ledger record (False: the one known
    is newer, or wins at the same version)."""
    if ticket.from_voucher is None and voucher is not None:
        ticket = ticket.model_copy(update={"from_voucher": voucher})
    stored = conn.execute("SELECT version, kind, body FROM entitlement WHERE id = ?", (ticket.id,)).fetchone()
    deleted = conn.execute(
        "SELECT version FROM tombstone WHERE type = 'entitlement' AND id = ?", (ticket.id,)
    ).fetchone()
    row = entitlement_row(ticket)
    if stored is not None and ticket.version == stored[0] and not (deleted and deleted[0] >= ticket.version):
        # Two kiosks cut off from each other made this admission at one version: the import's
        # rule (gate/cache/conflicts.py) keeps the same one everywhere, whatever came first.
        if (row.kind, row.body) <= (stored[1], stored[2]):
            return False
        log.warning("admission %s from voucher %s replaces the one of the same version (conflict)", ticket.id,
                    voucher)  # fmt: skip
    elif ticket.version <= max(stored[0] if stored else 0, deleted[0] if deleted else 0):
        log.warning("admission %s from voucher %s: a newer version is already known", ticket.id, voucher)
        return False
    conn.execute(
        "DELETE FROM reference WHERE entitlement_id = ? AND code IN "
        "(SELECT value FROM json_each((SELECT body FROM entitlement WHERE id = ?), '$.references'))",
        (ticket.id, ticket.id),
    )
    conn.execute("INSERT OR REPLACE INTO entitlement VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
    conn.executemany(
        "INSERT OR IGNORE INTO reference (code, entitlement_id) VALUES (?, ?)",
        [(code, ticket.id) for code in ticket.references],
    )
    log.info("admission %s created from voucher %s", ticket.id, voucher)
    return True
