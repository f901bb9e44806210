"""The venue's advisory lock on PostgreSQL: the hub holding it publishes the log (gate/hub/leader.py).

A session-level lock (`pg_try_advisory_lock`), keyed by the venue, on a connection of the hub's
own, named `gate-hub-<site>-<instance>` in `pg_stat_activity` (so `pg_locks` joined to it says
which hub publishes):

- a hub killed with -9 closes its socket: PostgreSQL ends its session at once, and the lock is
  free for the next hub's try;
- a hub cut off without a word is dropped by the server's TCP keepalives, set on the lock's
  session (`KEEPALIVE`), within about 10 s; the hub itself finds its check failing as soon, and
  stops publishing (for a moment two hubs may both publish, which costs nothing: a batch twice
  is ignored, a head is a state);
- the newest batch sent is noted in `hub_meta` (`published_through`), so the next holder
  carries on from there: a batch the old one sent and did not note goes out twice, which a
  device ignores.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from typing import Any

import psycopg

from gate.hub.postgres import StoreError, connect

log = logging.getLogger("gate.hub")

_PUBLISHED = "published_through"
# Server side, on the lock's session: a hub gone without closing its socket loses the lock in ~10 s.
KEEPALIVE = ("SET tcp_keepalives_idle = 4", "SET tcp_keepalives_interval = 2", "SET tcp_keepalives_count = 3",
             "SET tcp_user_timeout = 10000")  # fmt: skip
# Client side: a server gone silent fails the check within seconds, not TCP's minutes.
_CLIENT = {"keepalives": "1", "keepalives_idle": "4", "keepalives_interval": "2", "keepalives_count": "3",
           "tcp_user_timeout": "10000"}  # fmt: skip


def lock_key(site: str) -> int:
    """The venue's lock: 64 bits of a hash of its id (the migrations' lock is another key)."""
    digest = hashlib.blake2b(f"gate-hub-publisher:{site}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLeader:
    """The venue's advisory lock on a PostgreSQL connection of this hub's own."""

    def __init__(self, dsn: str, site: str, name: str) -> None:
        given = psycopg.conninfo.conninfo_to_dict(dsn)  # read by the store already
        self._dsn = psycopg.conninfo.make_conninfo(dsn, **{k: v for k, v in _CLIENT.items() if k not in given})
        self._site = site
        self._name = name
        self._key = lock_key(site)
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._said = ""  # the last problem said (once each)

    def check(self) -> bool:
        try:
            conn = self._connection()
            if self._held:
                conn.execute("SELECT 1")  # the session lives, and the lock with it
            else:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
                self._held = bool(row and row[0])
                if self._held:
                    log.info("hub %s: this hub publishes the log and the head (it holds the venue's lock)", self._site)
        except (psycopg.Error, StoreError) as exc:
            self._lost(str(exc).strip())
        else:
            self._said = ""
        return self._held

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._held = False
            self._conn = connect(self._dsn, self._name)
            for setting in KEEPALIVE:
                with contextlib.suppress(psycopg.errors.UndefinedObject):  # an older server: what it has
                    self._conn.execute(setting)
        return self._conn

    def _lost(self, why: str) -> None:
        if self._held:
            log.warning("hub %s: the venue's lock is lost, this hub stops publishing the log: %s", self._site, why)
        elif why != self._said:
            log.warning("hub %s: the venue's lock cannot be tried: %s", self._site, why)
        self._said, self._held = why, False
        self.close()

    def published(self) -> int | None:
        try:
            row = self._connection().execute("SELECT value FROM hub_meta WHERE site = %s AND key = %s",
                                             (self._site, _PUBLISHED)).fetchone()  # fmt: skip
        except (psycopg.Error, StoreError) as exc:
            self._lost(str(exc).strip())
            return None
        return int(row[0]) if row is not None and str(row[0]).isdigit() else None

    def note_published(self, seq: int) -> None:
        """Only while holding the lock: one writer, so the value only grows."""
        if not self._held:
            return
        try:
            self._connection().execute(
                "INSERT INTO hub_meta (site, key, value) VALUES (%s, %s, %s) ON CONFLICT (site, key) DO UPDATE "
                "SET value = excluded.value", (self._site, _PUBLISHED, str(seq)))  # fmt: skip
        except (psycopg.Error, StoreError) as exc:
            self._lost(str(exc).strip())

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._held = False
        if conn is not None and not conn.closed:
            conn.close()
