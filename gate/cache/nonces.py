"""Remote commands' nonces (gate/sync/commands.py): a command is carried out once, restarts or not.

Each nonce taken is kept, with its command's expiry, until that expiry has passed by
`KEEP_AFTER_S`: after that the command is refused as expired anyway. Expired nonces are
deleted whenever a new one is taken, so the table holds only the commands of the last few
minutes (a command lives at most a few minutes: gate/sync/commands.py), whatever the traffic.
"""

from __future__ import annotations

import sqlite3

from gate.cache.transaction import Transactions

KEEP_AFTER_S = 600.0  # past the expiry: room for a clock the hub's own clock check let through
_FORGET = "DELETE FROM command_nonce WHERE expires < ?"
_TAKE = "INSERT OR IGNORE INTO command_nonce (nonce, expires) VALUES (?, ?)"


class Nonces:
    """One ledger connection's view of the nonces taken (`Ledger.outbox().nonces()`)."""

    def __init__(self, conn: sqlite3.Connection, tx: Transactions) -> None:
        self._conn = conn
        self._tx = tx

    def take(self, nonce: str, *, expires: float, now: float) -> bool:
        """Whether `nonce` is new (now taken, durably, before its command is carried out); False
        for one taken before: a replay."""
        with self._tx.write():
            self._conn.execute(_FORGET, (now - KEEP_AFTER_S,))
            return self._conn.execute(_TAKE, (nonce, expires)).rowcount == 1

    def count(self) -> int:
        with self._tx.snapshot():
            return int(self._conn.execute("SELECT count(*) FROM command_nonce").fetchone()[0])
