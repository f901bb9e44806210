"""The hub's store on PostgreSQL (psycopg 3, the `gate[hub]` extra): `HubStore` for many venues.

One database holds many venues: every row is by venue (`site`). Its schema is the numbered SQL
files of gate/hub/migrations, applied when the store opens.

- **Order under a row lock.** PostgreSQL sequences hand out numbers that commit out of order,
  so a reader polling "seq > last seen" would skip a row committed late. Each venue has one
  row (`venue`): storing events and appending batches first take its lock, then their numbers
  from it (the log's `head`, the events' positions `pos`), and hold it to their commit. Numbers
  become visible in order; the hub processes of one venue write one at a time.
- **Marks**: as on SQLite, the highest seq up to which every row of the (device, incarnation)
  is held, from the device's `floor` on: one query finds where the run of held seqs stops.
- **Text**: PostgreSQL's text holds no NUL character, which a device's JSON may carry
  (`"\\u0000"`): it is stored as U+FFFD, so such a message is stored (and confirmed) rather
  than refused for ever.

One connection, used under a lock by whichever thread the hub uses; a lost connection is
opened again at the next call (the call that found it lost fails, and the device sends again).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from pydantic_core import from_json

from gate.errors import GateError
from gate.hub import migrations, pg_erasure
from gate.hub.erasure import Done, Redact, Request
from gate.hub.pg_shelf import PostgresShelf
from gate.hub.registry import Answer, DeviceVersions
from gate.hub.status import DeviceStatus
from gate.hub.store import StoredEvent, StoreUnavailable, Taken
from gate.sync.batches import Batch
from gate.sync.commands import CommandResult, RemoteCommand
from gate.sync.payloads import Events, Health

Cursor = psycopg.Cursor[Any]
CONNECT_TIMEOUT_S = 10  # unless the connection string says otherwise

_INSERT = """
INSERT INTO event (site, device, incarnation, received_at, seq, id, at, type, lane, entitlement_id, redemption_id,
                   reason, body, repeat, pos)
SELECT %s, %s, %s, %s, * FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[],
                                     %s::text[], %s::text[], %s::text[], %s::bool[], %s::bigint[])
ON CONFLICT DO NOTHING
"""
_KNOWN_IDS = "SELECT id FROM event WHERE site = %s AND device = %s AND incarnation <> %s AND id = ANY(%s)"
_MARK = "SELECT through FROM mark WHERE site = %s AND device = %s AND incarnation = %s"
# Where the run of held seqs after `through` stops: in a run without a gap, seq - its rank is `through`.
_RUN = """
SELECT max(seq) FROM (SELECT seq, seq - row_number() OVER (ORDER BY seq) AS start FROM event
                      WHERE site = %s AND device = %s AND incarnation = %s AND seq > %s) AS held
WHERE start = %s
"""
_PUT_MARK = """
INSERT INTO mark (site, device, incarnation, through) VALUES (%s, %s, %s, %s)
ON CONFLICT (site, device, incarnation) DO UPDATE SET through = excluded.through
"""
_TAKEN = """
SELECT e.device, e.redemption_id, e.at, e.reason, e.body FROM event e
WHERE e.site = %s AND e.entitlement_id = %s AND e.type = 'redemption.committed' AND NOT e.repeat
  AND e.redemption_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM event v WHERE v.site = e.site AND v.entitlement_id = e.entitlement_id
                  AND v.type = 'redemption.voided' AND v.redemption_id = e.redemption_id)
ORDER BY e.at, e.device COLLATE "C", e.redemption_id COLLATE "C"
"""
_COLUMNS = "device, seq, id, at, type, lane, entitlement_id, redemption_id, reason, body"
_EVENTS = f"""SELECT {_COLUMNS} FROM event WHERE site = %s AND NOT repeat AND at >= %s AND at < %s
              ORDER BY at, device COLLATE "C", seq"""
_ADMISSIONS = f"""
SELECT {_COLUMNS} FROM event e WHERE site = %s AND type = 'redemption.committed' AND NOT repeat
  AND body::json ->> 'admission' IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM event v WHERE v.site = e.site AND v.entitlement_id = e.entitlement_id
                  AND v.type = 'redemption.voided' AND v.redemption_id = e.redemption_id)
ORDER BY at, device COLLATE "C", seq
"""
_NOTE_DEVICE = """
INSERT INTO device (site, id, software, format, payloads, at) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (site, id) DO UPDATE SET software = excluded.software, format = excluded.format,
    payloads = excluded.payloads, at = excluded.at
WHERE excluded.at >= device.at
"""
_HEALTH = """
INSERT INTO device_status (site, device, health, health_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (site, device) DO UPDATE SET health = excluded.health, health_at = excluded.health_at
WHERE device_status.health_at IS NULL OR excluded.health_at >= device_status.health_at
"""
_PRESENCE = """
INSERT INTO device_status (site, device, online, online_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (site, device) DO UPDATE SET online = excluded.online, online_at = excluded.online_at
"""
_STATUS = """
SELECT d.device, s.online, s.online_at, s.health, s.health_at, d.last, d.events FROM (
    SELECT device, max(last) AS last, sum(events) AS events FROM (
        SELECT device, NULL::float8 AS last, 0::bigint AS events FROM device_status WHERE site = %(site)s
        UNION ALL
        SELECT device, max(at), count(*) FROM event WHERE site = %(site)s AND NOT repeat GROUP BY device) AS u
    GROUP BY device) AS d
LEFT JOIN device_status s ON s.site = %(site)s AND s.device = d.device
ORDER BY d.device COLLATE "C"
"""
_ANSWERED = """
UPDATE command SET outcome = %s, reason = %s, detail = %s, answered_at = %s
WHERE site = %s AND nonce = %s AND device = %s AND answered_at IS NULL
"""
# Batches that change keys are version 2 and name "retire": few, so reading them all is cheap.
_KEY_BATCHES = """SELECT seq, payload FROM batch WHERE site = %s AND strpos(payload, '"retire"') > 0
                  AND (payload::json ->> 'v')::int >= 2 ORDER BY seq"""


class StoreError(GateError):
    """The PostgreSQL store cannot be opened: what and why, never the connection string itself."""


def connect(dsn: str, name: str = "gate-hub") -> psycopg.Connection[Any]:
    """A connection in autocommit mode (each call opens its own transaction), called `name` in
    pg_stat_activity unless the DSN names it. A DSN libpq cannot read is refused without its
    text: it may hold a password."""
    try:
        given = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise StoreError("not a PostgreSQL connection string (postgresql://... or host=... dbname=...); "
                         "its text is not shown: it may hold a password") from None  # fmt: skip
    # A server that does not answer at all would hold the store's thread for minutes.
    defaults = {"connect_timeout": str(CONNECT_TIMEOUT_S), "application_name": name}
    if extra := {key: value for key, value in defaults.items() if key not in given}:
        dsn = psycopg.conninfo.make_conninfo(dsn, **extra)
    try:
        return psycopg.connect(dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        raise StoreError(f"PostgreSQL: {str(exc).strip()}") from None


def _text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\ufffd")


def _clean(value: Any) -> Any:
    """A JSON value without NUL characters (U+FFFD instead), at any depth."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, Mapping):
        return {str(_text(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _json(body: Mapping[str, Any]) -> str:
    text = json.dumps(body, separators=(",", ":"))
    return json.dumps(_clean(body), separators=(",", ":")) if "\\u0000" in text else text


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    device, seq, id_, at, type_, lane, entitlement, redemption, reason, body = row
    return StoredEvent(device, int(seq), id_, at, type_, lane, entitlement, redemption, reason, from_json(body))


class PostgresHubStore:
    """The hub's store for venue `site` in a PostgreSQL database (`dsn`), migrated on opening."""

    def __init__(self, dsn: str, site: str) -> None:
        self.site = site
        self._dsn = dsn
        self._lock = threading.Lock()
        self._name = f"gate-hub-{site}"
        self._conn = connect(dsn, self._name)
        try:
            migrations.upgrade(self._conn)
            with self._tx() as cur:
                cur.execute("INSERT INTO venue (site) VALUES (%s) ON CONFLICT DO NOTHING", (site,))
        except BaseException:
            self._conn.close()
            raise

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """One transaction on the store's connection (opened again if it was lost), under its lock;
        StoreUnavailable when the server is away or broke the transaction off (a deadlock, a
        restart, a connection cut)."""
        with self._lock:
            try:
                if self._conn.closed or self._conn.broken:
                    self._conn = connect(self._dsn, self._name)
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except StoreError as exc:
                raise StoreUnavailable(f"the hub's database: {exc}") from None
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(f"the hub's database: {str(exc).strip()}") from exc

    def _one(self, cur: Cursor, query: str, params: Sequence[Any]) -> Any:
        row = cur.execute(query, params).fetchone()
        return None if row is None else row[0]

    # --- devices' events, and their marks ------------------------------------------------------

    def add(self, events: Events) -> tuple[int, int]:
        now, n = time.time(), len(events.events)
        key = (self.site, events.device, events.incarnation)
        with self._tx() as cur:
            # The venue's lock, to the commit: positions become visible in the order they were taken.
            pos = int(self._one(cur, "UPDATE venue SET pos = pos + %s WHERE site = %s RETURNING pos", (n, self.site)))
            known = {id_ for (id_,) in cur.execute(_KNOWN_IDS, (*key, [_text(e.id) for e in events.events]))}
            stored = pg_erasure.late(cur, self.site, events.events)  # an erased holder's, pseudonymised
            rows = [(e.seq, _text(e.id), e.at, _text(e.type), _text(e.lane), _text(e.entitlement_id),
                     _text(e.redemption_id), _text(e.reason), _json(e.body), _text(e.id) in known, pos - n + 1 + i)
                    for i, e in enumerate(stored)]  # fmt: skip
            cur.execute(_INSERT, (*key, now, *(list(column) for column in zip(*rows, strict=True))))
            new = cur.rowcount
            through = max(int(self._one(cur, _MARK, key) or 0), events.floor)
            through = int(self._one(cur, _RUN, (*key, through, through)) or through)
            cur.execute(_PUT_MARK, (*key, through))
        return new, through

    def mark(self, device: str, incarnation: str) -> int:
        with self._tx() as cur:
            return int(self._one(cur, _MARK, (self.site, device, incarnation)) or 0)

    def count(self, device: str | None = None) -> int:
        with self._tx() as cur:
            if device is None:
                return int(self._one(cur, "SELECT count(*) FROM event WHERE site = %s AND NOT repeat", (self.site,)))
            query = "SELECT count(*) FROM event WHERE site = %s AND device = %s AND NOT repeat"
            return int(self._one(cur, query, (self.site, device)))

    def taken(self, entitlement_id: str) -> list[Taken]:
        with self._tx() as cur:
            return [Taken(*row) for row in cur.execute(_TAKEN, (self.site, entitlement_id))]

    def taken_admission(self, admission_id: str) -> list[str]:
        query = """SELECT body FROM event WHERE site = %s AND type = 'redemption.committed' AND NOT repeat
                   AND body::json ->> 'admission' = %s ORDER BY at LIMIT 10"""
        with self._tx() as cur:
            return [body for (body,) in cur.execute(query, (self.site, admission_id))]

    def events(self, since: float, until: float) -> Iterator[StoredEvent]:
        with self._tx() as cur:
            rows = cur.execute(_EVENTS, (self.site, since, until)).fetchall()
        for row in rows:
            yield _stored(row)

    def voided(self, since: float) -> set[str]:
        query = """SELECT redemption_id FROM event WHERE site = %s AND at >= %s AND type = 'redemption.voided'
                   AND NOT repeat"""
        with self._tx() as cur:
            return {redemption for (redemption,) in cur.execute(query, (self.site, since)) if redemption}

    def kiosk_admissions(self) -> list[StoredEvent]:
        with self._tx() as cur:
            rows = cur.execute(_ADMISSIONS, (self.site,)).fetchall()
        return [_stored(row) for row in rows]

    # --- the ledger's log ----------------------------------------------------------------------

    def append(self, make: Callable[[int], Batch]) -> Batch:
        with self._tx() as cur:  # the seq is taken under the venue's lock: never two n+1
            seq = int(self._one(cur, "UPDATE venue SET head = head + 1 WHERE site = %s RETURNING head", (self.site,)))
            batch = make(seq)
            cur.execute("INSERT INTO batch (site, seq, payload, at) VALUES (%s, %s, %s, %s)",
                        (self.site, seq, batch.model_dump_json(), time.time()))  # fmt: skip
        return batch

    def batches(self, after: int, limit: int = 50) -> list[Batch]:
        query = "SELECT payload FROM batch WHERE site = %s AND seq > %s ORDER BY seq LIMIT %s"
        with self._tx() as cur:
            rows = cur.execute(query, (self.site, after, limit)).fetchall()
        return [Batch.model_validate_json(payload) for (payload,) in rows]

    def head(self) -> int:
        with self._tx() as cur:
            return int(self._one(cur, "SELECT head FROM venue WHERE site = %s", (self.site,)) or 0)

    def published_file(self, sha256: str) -> tuple[int, int] | None:
        with self._tx() as cur:
            return self._published(cur, sha256)

    def _published(self, cur: Cursor, sha256: str) -> tuple[int, int] | None:
        row = cur.execute("SELECT first_seq, last_seq FROM published_file WHERE site = %s AND sha256 = %s",
                          (self.site, sha256)).fetchone()  # fmt: skip
        return None if row is None else (int(row[0]), int(row[1]))

    def append_file(
        self, name: str, sha256: str, makes: Sequence[Callable[[int], Batch]], request: Request | None = None
    ) -> tuple[list[Batch], bool]:
        with self._tx() as cur:
            head = int(self._one(cur, "SELECT head FROM venue WHERE site = %s FOR UPDATE", (self.site,)))
            known = self._published(cur, sha256)  # under the lock: the same file twice at once appends once
            if known is not None:
                rows = cur.execute("SELECT payload FROM batch WHERE site = %s AND seq BETWEEN %s AND %s ORDER BY seq",
                                   (self.site, *known)).fetchall()  # fmt: skip
                return [Batch.model_validate_json(payload) for (payload,) in rows], False
            now, made = time.time(), []
            for seq, make in enumerate(makes, start=head + 1):
                batch = make(seq)
                cur.execute("INSERT INTO batch (site, seq, payload, at) VALUES (%s, %s, %s, %s)",
                            (self.site, seq, batch.model_dump_json(), now))  # fmt: skip
                made.append(batch)
            last = head + len(made)
            cur.execute("UPDATE venue SET head = %s WHERE site = %s", (last, self.site))
            cur.execute("INSERT INTO published_file (site, sha256, name, first_seq, last_seq, at) "
                        "VALUES (%s, %s, %s, %s, %s, %s)", (self.site, sha256, _text(name), head + 1, last, now))
            if request is not None:
                pg_erasure.add_request(cur, self.site, dataclasses.replace(request, before=head + 1), now)
        return made, True

    def retired_keys(self) -> dict[str, int]:
        retired: dict[str, int] = {}
        with self._tx() as cur:
            for seq, payload in cur.execute(_KEY_BATCHES, (self.site,)):
                for key_id in (json.loads(payload).get("keys") or {}).get("retire", []):
                    retired.setdefault(key_id, int(seq))
        return retired

    # --- conflicts -----------------------------------------------------------------------------

    def add_conflicts(self, records: list[tuple[str, str, float, str]]) -> list[str]:
        new = []
        query = "INSERT INTO conflict (site, id, entitlement_id, found_at, record) VALUES (%s, %s, %s, %s, %s) " \
                "ON CONFLICT DO NOTHING"  # fmt: skip
        with self._tx() as cur:
            for record in records:
                cur.execute(query, (self.site, *record))
                if cur.rowcount:
                    new.append(record[0])
        return new

    def conflicts(self, since: float = 0.0, until: float | None = None, limit: int = 10_000) -> list[str]:
        query = """SELECT record FROM conflict WHERE site = %s AND found_at >= %s AND found_at < %s
                   ORDER BY found_at DESC, id COLLATE "C" LIMIT %s"""
        with self._tx() as cur:
            rows = cur.execute(query, (self.site, since, float("inf") if until is None else until, limit))
            return [record for (record,) in rows]

    # --- devices: versions, state, remote commands ---------------------------------------------

    def note_device(self, health: Health) -> None:
        row = (self.site, health.device, _text(health.software), health.format, json.dumps(health.payloads), health.at)
        with self._tx() as cur:
            cur.execute(_NOTE_DEVICE, row)
            cur.execute(_HEALTH, (self.site, health.device, _json(health.model_dump(mode="json")), health.at))

    def devices(self) -> list[DeviceVersions]:
        query = 'SELECT id, software, format, payloads, at FROM device WHERE site = %s ORDER BY id COLLATE "C"'
        with self._tx() as cur:
            rows = cur.execute(query, (self.site,)).fetchall()
        return [DeviceVersions(d, s, f, tuple(json.loads(p)), at) for d, s, f, p, at in rows]

    def note_presence(self, device: str, online: bool, at: float) -> None:
        with self._tx() as cur:
            cur.execute(_PRESENCE, (self.site, device, "online" if online else "offline", at))

    def statuses(self) -> list[DeviceStatus]:
        with self._tx() as cur:
            rows = cur.execute(_STATUS, {"site": self.site}).fetchall()
        found = []
        for device, online, online_at, health, health_at, last, events in rows:
            state = None if online is None else online == "online"
            message = None if health is None else json.loads(health)
            found.append(DeviceStatus(device, state, online_at, message, health_at, last, int(events or 0)))
        return found

    def add_command(self, command: RemoteCommand) -> None:
        query = "INSERT INTO command (site, nonce, device, payload, expires, made_at) VALUES (%s, %s, %s, %s, %s, %s)"
        row = (self.site, command.nonce, command.device, command.model_dump_json(), command.expires, time.time())
        with self._tx() as cur:
            cur.execute(query, row)

    def unsent_commands(self, now: float) -> list[RemoteCommand]:
        query = """SELECT payload FROM command WHERE site = %s AND sent_at IS NULL AND expires >= %s
                   ORDER BY made_at LIMIT 100"""
        with self._tx() as cur:
            rows = cur.execute(query, (self.site, now)).fetchall()
        return [RemoteCommand.model_validate_json(payload) for (payload,) in rows]

    def commands_sent(self, nonces: list[str]) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE command SET sent_at = %s WHERE site = %s AND nonce = ANY(%s)",
                        (time.time(), self.site, nonces))  # fmt: skip

    def withdraw(self, nonce: str) -> bool:
        query = "UPDATE command SET expires = 0 WHERE site = %s AND nonce = %s AND sent_at IS NULL"
        with self._tx() as cur:
            return cur.execute(query, (self.site, nonce)).rowcount == 1

    def command_answered(self, result: CommandResult) -> bool:
        row = (_text(result.outcome), _text(result.reason), _text(result.detail), result.at, self.site, result.nonce,
               result.device)  # fmt: skip
        with self._tx() as cur:
            return cur.execute(_ANSWERED, row).rowcount == 1

    def answer(self, nonce: str) -> Answer | None:
        query = "SELECT outcome, reason, detail FROM command WHERE site = %s AND nonce = %s AND outcome IS NOT NULL"
        with self._tx() as cur:
            row = cur.execute(query, (self.site, nonce)).fetchone()
        return None if row is None else Answer(*row)

    # --- erasure, snapshots --------------------------------------------------------------------

    def batches_mentioning(self, ids: Collection[str], before: int | None = None) -> Iterator[Batch]:
        with self._tx() as cur:
            seqs = pg_erasure.mentioning(cur, self.site, ids, before)
        for seq in seqs:
            with self._tx() as cur:
                payload = self._one(cur, "SELECT payload FROM batch WHERE site = %s AND seq = %s", (self.site, seq))
            if payload is not None:
                yield Batch.model_validate_json(payload)

    def pending_erasures(self) -> list[tuple[int, Request]]:
        with self._tx() as cur:
            return pg_erasure.pending(cur, self.site)

    def erase(self, number: int, request: Request, redact: Redact | None) -> Done:
        return pg_erasure.carry_out(self._tx, self.site, number, request, redact)

    def snapshots(self) -> PostgresShelf:
        return PostgresShelf(self._tx, self.site)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
