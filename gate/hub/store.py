"""The hub's store: devices' events once each, each (device, incarnation)'s high-water mark, and
the ledger's log of signed batches.

`HubStore` is the one small interface the hub needs; `SqliteHubStore` is the embedded default,
`PostgresHubStore` (gate/hub/postgres.py) the one for many venues, and `open_store` opens the one
the config names. An event's key is (device, incarnation, seq):
one sent again is ignored, so a device may repeat itself freely and nothing counts twice. The
mark is the highest seq up to which every row of that incarnation is held: the device's
`floor` (what it says was confirmed before) carried over, then every stored seq after it.

A restored ledger sends again, under its new incarnation, rows the hub already has under the
old one: same row id. They are kept (the new incarnation's mark needs every seq) but marked
`repeat`, and nothing counts a repeat: each event is counted once, whatever its incarnation.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pydantic_core import from_json

from gate.errors import GateError
from gate.hub import erasure, files, registry, shelf, status
from gate.hub.erasure import Done, Redact, Request
from gate.hub.registry import Answer, DeviceVersions
from gate.hub.status import DeviceStatus
from gate.sync.batches import Batch
from gate.sync.commands import CommandResult, RemoteCommand
from gate.sync.link import read_secret
from gate.sync.payloads import Events, Health

if TYPE_CHECKING:
    from gate.config import GateConfig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    device TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    at REAL NOT NULL,
    type TEXT NOT NULL,
    lane TEXT,
    entitlement_id TEXT,
    redemption_id TEXT,
    reason TEXT,
    body TEXT NOT NULL,
    received_at REAL NOT NULL,
    repeat INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, incarnation, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_id ON event (device, id);
CREATE TABLE IF NOT EXISTS batch (
    seq INTEGER PRIMARY KEY,
    payload TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS event_entitlement ON event (entitlement_id, type);
CREATE TABLE IF NOT EXISTS conflict (
    id TEXT PRIMARY KEY,
    entitlement_id TEXT NOT NULL,
    found_at REAL NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conflict_found ON conflict (found_at);
CREATE TABLE IF NOT EXISTS mark (
    device TEXT NOT NULL,
    incarnation TEXT NOT NULL,
    through INTEGER NOT NULL,
    PRIMARY KEY (device, incarnation)
) WITHOUT ROWID;
"""
_INSERT = """
INSERT OR IGNORE INTO event (device, incarnation, seq, id, at, type, lane, entitlement_id, redemption_id, reason,
                             body, received_at, repeat, pos)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_KNOWN_IDS = "SELECT id FROM event WHERE device = ? AND incarnation <> ? AND id IN (SELECT value FROM json_each(?))"
_MARK = "SELECT through FROM mark WHERE device = ? AND incarnation = ?"
_PUT_MARK = """
INSERT INTO mark (device, incarnation, through) VALUES (?, ?, ?)
ON CONFLICT (device, incarnation) DO UPDATE SET through = excluded.through
"""
# An entitlement's committed redemptions that count: each once (not a restored ledger's repeat),
# not voided since, in the site's order (time, then device).
_TAKEN = """
SELECT e.device, e.redemption_id, e.at, e.reason, e.body FROM event e
WHERE e.entitlement_id = ? AND e.type = 'redemption.committed' AND e.repeat = 0 AND e.redemption_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM event v WHERE v.entitlement_id = e.entitlement_id AND v.type = 'redemption.voided'
                  AND v.redemption_id = e.redemption_id)
ORDER BY e.at, e.device, e.redemption_id
"""
_HELD_AFTER = "SELECT seq FROM event WHERE device = ? AND incarnation = ? AND seq > ? ORDER BY seq LIMIT 10000"


class StoreUnavailable(GateError):
    """The store cannot answer now (its database server is away, or broke the transaction off):
    the call's transaction did not commit, unless it broke during the commit itself. Tried again
    later, nothing is lost: a device sends again what the hub did not confirm."""


class Taken(NamedTuple):
    """A committed redemption as the hub holds it (`body`: its journal row's, as JSON text)."""

    device: str
    redemption: str
    at: float
    reason: str | None
    body: str


class StoredEvent(NamedTuple):
    """A device's event as the hub holds it, for reports (`body` parsed)."""

    device: str
    seq: int
    id: str
    at: float
    type: str
    lane: str | None
    entitlement_id: str | None
    redemption_id: str | None
    reason: str | None
    body: dict[str, Any]


# Reports read events by time; built once on an older store.
_REPORT_SCHEMA = "CREATE INDEX IF NOT EXISTS event_at ON event (at);"
_COLUMNS = "device, seq, id, at, type, lane, entitlement_id, redemption_id, reason, body"
_EVENTS = f"SELECT {_COLUMNS} FROM event WHERE repeat = 0 AND at >= ? AND at < ? ORDER BY at, device, seq"
_VOIDED = "SELECT redemption_id FROM event WHERE at >= ? AND type = 'redemption.voided' AND repeat = 0"
_ADMISSIONS = f"""
SELECT {_COLUMNS} FROM event e WHERE type = 'redemption.committed' AND repeat = 0
  AND json_extract(body, '$.admission') IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM event v WHERE v.entitlement_id = e.entitlement_id AND v.type = 'redemption.voided'
                  AND v.redemption_id = e.redemption_id)
ORDER BY at, device, seq
"""


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    device, seq, id_, at, type_, lane, entitlement, redemption, reason, body = row
    # pydantic-core's parser: half json.loads's time, and a report reads every event of its days
    return StoredEvent(device, seq, id_, at, type_, lane, entitlement, redemption, reason, from_json(body))


class HubStore(Protocol):
    def append(self, make: Callable[[int], Batch]) -> Batch:
        """The next batch of the ledger's log: `make(seq)` signs it; stored in one transaction."""
        ...

    def batches(self, after: int, limit: int = 50) -> list[Batch]:
        """The log's batches after seq `after`, in order."""
        ...

    def head(self) -> int:
        """The newest batch's seq (0: none yet)."""
        ...

    def add(self, events: Events) -> tuple[int, int]:
        """Store what is new of `events`; (rows new, the (device, incarnation)'s mark after)."""
        ...

    def mark(self, device: str, incarnation: str) -> int: ...

    def count(self, device: str | None = None) -> int:
        """Events held, each once (a restored ledger's repeats not counted)."""
        ...

    def taken(self, entitlement_id: str) -> list[Taken]:
        """The entitlement's committed, unvoided redemptions from every device, in the site's order."""
        ...

    def add_conflicts(self, records: list[tuple[str, str, float, str]]) -> list[str]:
        """Keep (id, entitlement id, found at, record JSON) of the ones not known yet; the new ones' ids."""
        ...

    def taken_admission(self, admission_id: str) -> list[str]:
        """The bodies (JSON) of committed redemptions that created this admission (a kiosk's voucher)."""
        ...

    def conflicts(self, since: float = 0.0, until: float | None = None, limit: int = 10_000) -> list[str]:
        """The conflict records (JSON) found in [since, until), newest first."""
        ...

    # Devices' versions and remote commands (gate/hub/registry.py).
    def note_device(self, health: Health) -> None: ...

    def devices(self) -> list[DeviceVersions]: ...

    def add_command(self, command: RemoteCommand) -> None: ...

    def unsent_commands(self, now: float) -> list[RemoteCommand]:
        """Commands not sent yet and not expired at `now`, oldest first."""
        ...

    def commands_sent(self, nonces: list[str]) -> None: ...

    def withdraw(self, nonce: str) -> bool:
        """Whether the command was not sent yet, and now never will be."""
        ...

    def command_answered(self, result: CommandResult) -> bool: ...

    def answer(self, nonce: str) -> Answer | None: ...

    def retired_keys(self) -> dict[str, int]:
        """Ledger key ids the log's batches retired: key id -> the batch that did."""
        ...

    # Files in, erasure, devices' state, reports (gate/hub/files.py, erasure.py, status.py, reports.py).
    def published_file(self, sha256: str) -> tuple[int, int] | None:
        """The batches (first, last seq) a file of this digest became; None: never published."""
        ...

    def append_file(
        self, name: str, sha256: str, makes: Sequence[Callable[[int], Batch]], request: Request | None = None
    ) -> tuple[list[Batch], bool]:
        """A file's batches, its digest and its erasure request in one transaction, unless a file of
        this digest is published already: (its batches, whether they are new)."""
        ...

    def batches_mentioning(self, ids: Collection[str], before: int | None = None) -> Iterator[Batch]:
        """The log's batches (before seq `before`) whose lines mention one of `ids`."""
        ...

    def pending_erasures(self) -> list[tuple[int, Request]]: ...

    def erase(self, number: int, request: Request, redact: Redact | None) -> Done:
        """Carry out a pending erasure (gate/hub/erasure.py) in short transactions."""
        ...

    def note_presence(self, device: str, online: bool, at: float) -> None: ...

    def statuses(self) -> list[DeviceStatus]: ...

    def events(self, since: float, until: float) -> Iterator[StoredEvent]:
        """Events in [since, until), each once, in time order."""
        ...

    def voided(self, since: float) -> set[str]:
        """The redemptions voided at or after `since`."""
        ...

    def kiosk_admissions(self) -> list[StoredEvent]:
        """Committed redemptions that made an admission (a kiosk's voucher), not voided."""
        ...

    def snapshots(self) -> shelf.Shelf:
        """The snapshots kept for gates, and the events' positions (gate/hub/shelf.py)."""
        ...

    def close(self) -> None: ...


class SqliteHubStore:
    """The hub's store in one SQLite file (WAL, each batch one transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()  # one writer at a time, whichever thread the hub uses
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.executescript(_SCHEMA)
        shelf.prepare(self._conn)  # snapshots, and events' positions (gate/hub/shelf.py)
        self._conn.executescript(registry.SCHEMA)
        self._conn.executescript(files.SCHEMA + erasure.SCHEMA + status.SCHEMA + _REPORT_SCHEMA)

    def add(self, events: Events) -> tuple[int, int]:
        now = time.time()
        key = (events.device, events.incarnation)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                ids = json.dumps([e.id for e in events.events])
                known = {row[0] for row in conn.execute(_KNOWN_IDS, (*key, ids))}
                pos = shelf.next_position(conn)  # under the write lock: positions grow as events commit
                rows = [
                    (*key, e.seq, e.id, e.at, e.type, e.lane, e.entitlement_id, e.redemption_id, e.reason,
                     json.dumps(e.body, separators=(",", ":")), now, int(e.id in known), pos + n)
                    for n, e in enumerate(erasure.late(conn, events.events))  # an erased holder's, pseudonymised
                ]  # fmt: skip
                before = conn.total_changes
                conn.executemany(_INSERT, rows)
                new = conn.total_changes - before
                found = conn.execute(_MARK, key).fetchone()
                through = max(found[0] if found else 0, events.floor)
                while True:  # past the mark, as far as every seq is held
                    seqs = [seq for (seq,) in conn.execute(_HELD_AFTER, (*key, through))]
                    run = 0
                    for seq in seqs:
                        if seq != through + run + 1:
                            break
                        run += 1
                    through += run
                    if run < len(seqs) or len(seqs) < 10000:
                        break
                conn.execute(_PUT_MARK, (*key, through))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return new, through

    def append(self, make: Callable[[int], Batch]) -> Batch:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")  # the seq is taken under the write lock: never two n+1
            try:
                seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM batch").fetchone()[0])
                batch = make(seq)
                conn.execute("INSERT INTO batch (seq, payload, at) VALUES (?, ?, ?)",
                             (seq, batch.model_dump_json(), time.time()))  # fmt: skip
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return batch

    def batches(self, after: int, limit: int = 50) -> list[Batch]:
        with self._lock:
            rows = self._conn.execute("SELECT payload FROM batch WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit))
            return [Batch.model_validate_json(payload) for (payload,) in rows]

    def head(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT coalesce(max(seq), 0) FROM batch").fetchone()[0])

    def mark(self, device: str, incarnation: str) -> int:
        with self._lock:
            found = self._conn.execute(_MARK, (device, incarnation)).fetchone()
        return int(found[0]) if found else 0

    def count(self, device: str | None = None) -> int:
        with self._lock:
            if device is None:
                return int(self._conn.execute("SELECT count(*) FROM event WHERE repeat = 0").fetchone()[0])
            query = "SELECT count(*) FROM event WHERE device = ? AND repeat = 0"
            return int(self._conn.execute(query, (device,)).fetchone()[0])

    def taken(self, entitlement_id: str) -> list[Taken]:
        with self._lock:
            return [Taken(*row) for row in self._conn.execute(_TAKEN, (entitlement_id,))]

    def add_conflicts(self, records: list[tuple[str, str, float, str]]) -> list[str]:
        new = []
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    if self._conn.execute("INSERT OR IGNORE INTO conflict VALUES (?, ?, ?, ?)", record).rowcount:
                        new.append(record[0])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return new

    def taken_admission(self, admission_id: str) -> list[str]:
        query = """SELECT body FROM event WHERE type = 'redemption.committed' AND repeat = 0
                   AND json_extract(body, '$.admission') = ? ORDER BY at LIMIT 10"""
        with self._lock:
            return [body for (body,) in self._conn.execute(query, (admission_id,))]

    def conflicts(self, since: float = 0.0, until: float | None = None, limit: int = 10_000) -> list[str]:
        query = "SELECT record FROM conflict WHERE found_at >= ? AND found_at < ? ORDER BY found_at DESC, id LIMIT ?"
        with self._lock:
            rows = self._conn.execute(query, (since, float("inf") if until is None else until, limit))
            return [record for (record,) in rows]

    def note_device(self, health: Health) -> None:
        with self._lock:
            registry.note_device(self._conn, health)
            status.note_health(self._conn, health)  # the whole message, for `gate hub report devices`

    def devices(self) -> list[DeviceVersions]:
        with self._lock:
            return registry.devices(self._conn)

    def add_command(self, command: RemoteCommand) -> None:
        with self._lock:
            registry.add_command(self._conn, command)

    def unsent_commands(self, now: float) -> list[RemoteCommand]:
        with self._lock:
            return registry.unsent_commands(self._conn, now)

    def commands_sent(self, nonces: list[str]) -> None:
        with self._lock:
            registry.commands_sent(self._conn, nonces)

    def withdraw(self, nonce: str) -> bool:
        with self._lock:
            return registry.withdraw(self._conn, nonce)

    def command_answered(self, result: CommandResult) -> bool:
        with self._lock:
            return registry.command_answered(self._conn, result)

    def answer(self, nonce: str) -> Answer | None:
        with self._lock:
            return registry.answer(self._conn, nonce)

    def retired_keys(self) -> dict[str, int]:
        with self._lock:
            return registry.retired_keys(self._conn)

    def published_file(self, sha256: str) -> tuple[int, int] | None:
        with self._lock:
            return files.published(self._conn, sha256)

    def append_file(
        self, name: str, sha256: str, makes: Sequence[Callable[[int], Batch]], request: Request | None = None
    ) -> tuple[list[Batch], bool]:
        with self._lock:
            return files.append_file(self._conn, name, sha256, makes, request)

    def batches_mentioning(self, ids: Collection[str], before: int | None = None) -> Iterator[Batch]:
        with self._lock:
            seqs = erasure.mentioning(self._conn, ids, before)
        for seq in seqs:
            with self._lock:
                row = self._conn.execute("SELECT payload FROM batch WHERE seq = ?", (seq,)).fetchone()
            if row is not None:
                yield Batch.model_validate_json(row[0])

    def pending_erasures(self) -> list[tuple[int, Request]]:
        with self._lock:
            return erasure.pending(self._conn)

    def erase(self, number: int, request: Request, redact: Redact | None) -> Done:
        return erasure.carry_out(self._conn, self._lock, number, request, redact)

    def note_presence(self, device: str, online: bool, at: float) -> None:
        with self._lock:
            status.note_presence(self._conn, device, online, at)

    def statuses(self) -> list[DeviceStatus]:
        with self._lock:
            return status.statuses(self._conn)

    def events(self, since: float, until: float) -> Iterator[StoredEvent]:
        with self._lock:
            rows = self._conn.execute(_EVENTS, (since, until)).fetchall()
        for row in rows:
            yield _stored(row)

    def voided(self, since: float) -> set[str]:
        with self._lock:
            return {redemption for (redemption,) in self._conn.execute(_VOIDED, (since,)) if redemption}

    def kiosk_admissions(self) -> list[StoredEvent]:
        with self._lock:
            rows = self._conn.execute(_ADMISSIONS).fetchall()
        return [_stored(row) for row in rows]

    def snapshots(self) -> shelf.SqliteShelf:
        return shelf.SqliteShelf(self._conn, self._lock)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_store(config: GateConfig) -> HubStore:
    """The hub's store as the config says: PostgreSQL when `[hub] dsn_file` is given (the DSN read
    as a secret: never printed), else SQLite at `[hub] store`."""
    hub = config.hub
    if hub.dsn_file is None:
        return SqliteHubStore(hub.store)
    dsn = read_secret(hub.dsn_file, what="hub.dsn_file")
    try:
        from gate.hub.postgres import PostgresHubStore, StoreError  # noqa: PLC0415 - the gate[hub] extra
    except ImportError as exc:
        if exc.name != "psycopg":
            raise
        raise GateError("hub.dsn_file: the hub on PostgreSQL needs psycopg: install gate with its hub extra "
                        "(pip install 'gate[hub]')") from None  # fmt: skip
    try:
        return PostgresHubStore(dsn, config.sync.site)
    except StoreError as exc:
        raise GateError(f"hub.dsn_file {hub.dsn_file}: {exc}") from None
