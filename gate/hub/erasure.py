"""Erasure at the hub: a holder the back office erased leaves no trace of their entitlements in the
hub's history of events, nor in its log of batches (docs/privacy.md).

The back office erases a holder by deleting them and their entitlements (tombstones in a ledger
file). When `gate hub publish` (or the watched folder) takes such a file, once the hub's copy of
the ledger has imported it:

- **Which entitlements** (`plan`): every entitlement whose newest line in the log (or the file)
  names an erased holder (one the hub's copy no longer holds) and that the copy no longer holds
  either, including ones deleted long before; with the admissions kiosks made from them (from
  the events). Entitlements of an erased holder that the back office keeps are not erased: they
  may still be presented, and their uses decide (the publish says which, so the back office can
  delete them too).
- **The events**: their entitlement id becomes a keyed pseudonym (HMAC with a random key kept in
  the store), and the scanned code, the decision's parameters, free text and a voucher's
  admission record go (`gate.cache.erasure.scrub`); counts, times, lanes, zones, kinds and reason
  codes stay, so every report still counts them. The pseudonyms are kept (`erased`) so that an
  event arriving later (a device that was cut off) is pseudonymised as it is stored (`late`).
- **The log**: the earlier batches' lines of the erased holder and entitlements are cut, and
  each batch changed is signed again at its seq. The tombstones stay (a record of a lower version
  must not come back), and a gate catching up from nothing ends in the same ledger, without ever
  holding the name.

Crash safety: the request (ids and codes to erase) is stored in the transaction that appends the
file's batches, and carried out after it in short transactions (the hub goes on storing events);
a publish or a hub killed meanwhile finds it again (`pending`) and finishes it. Everything is
idempotent. Once done, the request's ids and codes go and its row stays, with its time: a
snapshot built before it (gate/hub/snapshots.py) still holds the erased records, and is not
served. Rows are rewritten with SQLite's secure_delete, so the old bytes do not stay in the
file's free space.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache.erasure import PAUSE_S, PREFIX, deletions, mentions, pseudonym, scrub
from gate.records import normalise_reference
from gate.sync.batches import Batch, sign_batch
from gate.sync.payloads import Event

log = logging.getLogger("gate.hub")

SCHEMA = """
CREATE TABLE IF NOT EXISTS erasure (
    id INTEGER PRIMARY KEY,
    request TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS erased (pseudonym TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
CHUNK = 200  # events rewritten per transaction: the hub's ingest waits a few ms at most


@dataclass(frozen=True, slots=True)
class Request:
    """What one file erases: holders, their entitlements (ids, codes), and the record lines to cut
    from the log's batches before `before` (the file's first batch), as (type, id, version)."""

    holders: tuple[str, ...]
    entitlements: tuple[str, ...]
    references: tuple[str, ...]
    cut: tuple[tuple[str, str, int], ...]
    before: int = 0

    def dump(self) -> str:
        return json.dumps({"holders": self.holders, "entitlements": self.entitlements, "references": self.references,
                           "cut": self.cut, "before": self.before}, separators=(",", ":"))  # fmt: skip

    @classmethod
    def load(cls, text: str) -> Request:
        data = json.loads(text)
        cut = tuple((str(t), str(i), int(v)) for t, i, v in data["cut"])
        return cls(tuple(data["holders"]), tuple(data["entitlements"]), tuple(data["references"]), cut,
                   int(data["before"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Planned:
    request: Request | None
    kept: tuple[str, ...]  # entitlements of an erased holder that the ledger keeps: not erased
    vouchers: tuple[str, ...] = ()  # the erased ones that are vouchers (their admissions: `admissions_gone`)


@dataclass(frozen=True, slots=True)
class Done:
    entitlements: int  # erased, with the admissions made from them
    events: int  # events rewritten
    batches: int  # batches of the log cut and signed again


class Log(Protocol):
    """What planning needs of the store: the log's batches that mention ids."""

    def batches_mentioning(self, ids: Collection[str], before: int | None = None) -> Iterator[Batch]: ...


Redact = Callable[[Batch], Batch | None]


def plan(store: Log, mirror: Path, lines: Sequence[str]) -> Planned:
    """After the hub's copy of the ledger imported `lines`: what they erase (no request: nothing)."""
    holders, _ = deletions(lines)
    if not holders:
        return Planned(None, ())
    with _Mirror(mirror) as copy:
        erased = sorted(h for h in holders if not copy.holds("holder", h))
        if not erased:
            return Planned(None, ())
        text = "\n".join(lines)
        # First the entitlements that ever named an erased holder, then every line of those: the
        # newest version says whose it was last, and every version's codes were theirs.
        candidates = {e for e, (_, holder, _, _) in _lines(store, erased, text).items() if holder in erased}
        newest = _lines(store, sorted(candidates), text)
        gone: list[str] = []
        kept: list[str] = []
        for entitlement in sorted(candidates):
            _, holder, _, _ = newest.get(entitlement, (0, None, (), None))
            if holder in erased:
                (kept if copy.holds("entitlement", entitlement) else gone).append(entitlement)
        references = sorted({code for e in gone for code in newest[e][2]})
        cut = [("holder", h, copy.deleted("holder", h)) for h in erased]
        cut += [("entitlement", e, copy.deleted("entitlement", e)) for e in gone]
    request = Request(tuple(erased), tuple(gone), tuple(references), tuple(c for c in cut if c[2] > 0))
    return Planned(request, tuple(kept), tuple(e for e in gone if newest[e][3] == "voucher"))


Found = dict[str, tuple[int, str | None, tuple[str, ...], str | None]]


def _lines(store: Log, ids: Sequence[str], text: str) -> Found:
    """Entitlement lines (records, not tombstones) that mention one of `ids`, in the log and in
    `text`: entitlement id -> (its newest version, that version's holder, every code it had, its kind)."""
    found: Found = {}
    if not ids:
        return found
    needles = [json.dumps(i) for i in ids]
    for batch_text in (*(batch.lines for batch in store.batches_mentioning(ids)), text):
        for line in batch_text.splitlines():
            if '"entitlement"' not in line or not any(needle in line for needle in needles):
                continue
            data = _record(line)
            if data is None or data.get("type") != "entitlement" or data.get("deleted"):
                continue
            id_, version = data.get("id"), data.get("version")
            if not isinstance(id_, str) or not isinstance(version, int):
                continue
            old_version, old_holder, codes, kind = found.get(id_, (0, None, (), None))
            refs = data.get("references")
            if isinstance(refs, list):
                codes = (*codes, *(normalise_reference(r) for r in refs if isinstance(r, str)))
            holder = data.get("holder") if version >= old_version else old_holder
            kind = str(data.get("kind")) if version >= old_version else kind
            found[id_] = (max(version, old_version), holder if isinstance(holder, str) else None, codes, kind)
    return found


def admissions_gone(mirror: Path, planned: Planned) -> list[str]:
    """Tombstone lines for the admissions kiosks made from the erased vouchers (the hub put them in
    its log, gate/hub/admissions.py; the back office never knew them): each one the copy holds, at
    its version, and each voucher's admission id a kiosk cut off may still send (rules/voucher.py
    names it `<voucher>:admission`, version 1), so it never enters the log again."""
    lines = []
    with _Mirror(mirror) as copy:
        for voucher in planned.vouchers:
            made = dict(copy.rows("SELECT id, version FROM entitlement WHERE predecessor = ? AND kind = 'ticket'",
                                  voucher))  # fmt: skip
            made.setdefault(f"{voucher}:admission", max(1, copy.deleted("entitlement", f"{voucher}:admission")))
            lines += [json.dumps({"type": "entitlement", "id": id_, "version": version, "deleted": True},
                                 separators=(",", ":")) for id_, version in sorted(made.items())]  # fmt: skip
    return lines


def _record(line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class _Mirror:
    """The hub's copy of the ledger, read only."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)

    def __enter__(self) -> _Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.close()

    def holds(self, type_: str, id_: str) -> bool:
        if type_ == "entitlement":
            return self._conn.execute("SELECT 1 FROM entitlement WHERE id = ?", (id_,)).fetchone() is not None
        return self._conn.execute("SELECT 1 FROM record WHERE type = ? AND id = ?", (type_, id_)).fetchone() is not None

    def rows(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        return self._conn.execute(query, args).fetchall()

    def deleted(self, type_: str, id_: str) -> int:
        row = self._conn.execute("SELECT version FROM tombstone WHERE type = ? AND id = ?", (type_, id_)).fetchone()
        return int(row[0]) if row else 0


def redactor(site: str, key_id: str, key: Ed25519PrivateKey, request: Request) -> Redact:
    """Cuts the request's record lines out of a batch and signs it again at its seq (None: the
    batch holds none of them, or is not a plain batch of records)."""
    cut = {(type_, id_): version for type_, id_, version in request.cut}
    needles = [json.dumps(id_) for _, id_ in cut]

    def redact(batch: Batch) -> Batch | None:
        if batch.v != 1:  # a batch of key changes: the key-rotation's own, never a holder's records
            return None
        kept: list[str] = []
        for line in batch.lines.splitlines():
            if any(needle in line for needle in needles) and (data := _record(line)) is not None:
                version = cut.get((str(data.get("type")), str(data.get("id"))))
                if version is not None and not data.get("deleted") and isinstance(data.get("version"), int) \
                        and data["version"] <= version:  # fmt: skip
                    continue
            kept.append(line)
        if len(kept) == len(batch.lines.splitlines()):
            return None
        return sign_batch(site, batch.seq, "\n".join(kept) + "\n", key_id=key_id, key=key)

    return redact


# --- the SQLite store's side (gate/hub/store.py calls these) ------------------------------------

_KEY = "erasure_key"
_ADMISSIONS = """
SELECT DISTINCT json_extract(body, '$.admission') FROM event
WHERE entitlement_id IN (SELECT value FROM json_each(?)) AND type = 'redemption.committed'
  AND json_extract(body, '$.admission') IS NOT NULL
"""
_EVENTS = """
SELECT device, incarnation, seq FROM event WHERE entitlement_id IN (SELECT value FROM json_each(?1))
    OR EXISTS (SELECT 1 FROM json_each(?1) k WHERE instr(body, '"' || k.value || '"') > 0)
    OR erasure_reference(json_extract(body, '$.reference')) IN (SELECT value FROM json_each(?2))
"""
_EVENT = "SELECT entitlement_id, body FROM event WHERE device = ? AND incarnation = ? AND seq = ?"
_PUT_EVENT = "UPDATE event SET entitlement_id = ?, body = ? WHERE device = ? AND incarnation = ? AND seq = ?"


def add_request(conn: sqlite3.Connection, request: Request, now: float) -> None:
    """Inside the transaction that appends the file's batches."""
    conn.execute("INSERT INTO erasure (request, at) VALUES (?, ?)", (request.dump(), now))


def pending(conn: sqlite3.Connection) -> list[tuple[int, Request]]:
    rows = conn.execute("SELECT id, request FROM erasure WHERE request <> '' ORDER BY id")
    return [(number, Request.load(text)) for number, text in rows]


def carry_out(conn: sqlite3.Connection, lock: threading.Lock, number: int, request: Request,
              redact: Redact | None) -> Done:  # fmt: skip
    """Carry out a stored request in short transactions, then forget it (`redact` None: the log
    is left for a run that can sign, and the request stays)."""
    conn.create_function("erasure_reference", 1, _reference, deterministic=True)
    conn.execute("PRAGMA secure_delete = ON")  # what is rewritten leaves no copy in the file's free space
    with lock:
        names, codes = _write(conn, lambda: _erased(conn, request))
    with lock:
        _read(conn)
        keys = conn.execute(_EVENTS, (json.dumps(sorted(names)), json.dumps(sorted(request.references)))).fetchall()
        conn.execute("COMMIT")
    events = 0
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        with lock:
            events += _write(conn, functools.partial(_scrub_events, conn, chunk, names, codes))
    cut = 0
    if redact is not None:
        with lock:
            seqs = mentioning(conn, [id_ for _, id_, _ in request.cut], request.before)
        for seq in seqs:
            with lock:
                cut += _write(conn, functools.partial(_redact, conn, seq, redact))
        with lock:  # done: its ids and codes go; its time stays (no snapshot older than it is served)
            _write(conn, lambda: conn.execute("UPDATE erasure SET request = '' WHERE id = ?", (number,)))
    log.info("erasure: %d holder(s), %d entitlement(s): %d event(s) pseudonymised, %d batch(es) of the log cut and "
             "signed again%s", len(request.holders), len(names), events, cut,
             "" if redact else " (not yet: the log is cut by a hub that holds the ledger key)")  # fmt: skip
    return Done(len(names), events, cut)


def _erased(conn: sqlite3.Connection, request: Request) -> tuple[dict[str, str], frozenset[str]]:
    """The pseudonyms, kept so that late events are pseudonymised on arrival (`late`)."""
    key = _key(conn)
    ids = list(request.entitlements)
    ids += [a for (a,) in conn.execute(_ADMISSIONS, (json.dumps(ids),)) if isinstance(a, str) and a not in ids]
    names = {id_: pseudonym(key, id_) for id_ in ids}
    marks = [*names.values(), *(pseudonym(key, f"ref:{code}") for code in request.references)]
    conn.executemany("INSERT OR IGNORE INTO erased (pseudonym) VALUES (?)", [(mark,) for mark in marks])
    return names, frozenset(request.references)


def _scrub_events(conn: sqlite3.Connection, keys: Iterable[tuple[str, str, int]], names: dict[str, str],
                  codes: frozenset[str]) -> int:  # fmt: skip
    done = 0
    for key in keys:
        row = conn.execute(_EVENT, key).fetchone()
        body = None if row is None else json.loads(row[1])
        if body is None or not mentions(row[0], body, names, codes):
            continue
        entitlement, new = scrub(row[0], body, names)
        conn.execute(_PUT_EVENT, (entitlement, json.dumps(new, separators=(",", ":")), *key))
        done += 1
    return done


def _redact(conn: sqlite3.Connection, seq: int, redact: Redact) -> int:
    row = conn.execute("SELECT payload FROM batch WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        return 0
    batch = redact(Batch.model_validate_json(row[0]))
    if batch is None:
        return 0
    conn.execute("UPDATE batch SET payload = ? WHERE seq = ?", (batch.model_dump_json(), seq))
    log.info("erasure: batch %d of the log cut and signed again", seq)
    return 1


def _key(conn: sqlite3.Connection) -> bytes:
    row = conn.execute("SELECT value FROM hub_meta WHERE key = ?", (_KEY,)).fetchone()
    if row is not None:
        return bytes.fromhex(row[0])
    key = secrets.token_bytes(32)
    conn.execute("INSERT INTO hub_meta (key, value) VALUES (?, ?)", (_KEY, key.hex()))
    return key


def late(conn: sqlite3.Connection, events: Sequence[Event]) -> list[Event]:
    """Inside the transaction that stores `events`: any about an erased entitlement (a device cut
    off while the hub erased) pseudonymised before it is stored. One look-up per message."""
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM erased)").fetchone()[0]:
        return list(events)
    query = "SELECT pseudonym FROM erased WHERE pseudonym IN (SELECT value FROM json_each(?))"

    def erased(marks: list[str]) -> set[str]:
        return {mark for (mark,) in conn.execute(query, (json.dumps(marks),))}

    return pseudonymised(events, _key(conn), erased)


def pseudonymised(events: Sequence[Event], key: bytes, erased: Callable[[list[str]], set[str]]) -> list[Event]:
    """`events`, each that names an erased entitlement or reference scrubbed; `erased(marks)` says
    which of the pseudonyms asked about are erased (the store's one look-up)."""
    marks = [{pseudonym(key, id_): id_ for id_ in ids_of(event)} for event in events]
    for event, found in zip(events, marks, strict=True):
        reference = event.body.get("reference")
        if isinstance(reference, str) and reference:
            found[pseudonym(key, f"ref:{normalise_reference(reference)}")] = ""
    hits = erased([m for found in marks for m in found])
    if not hits:
        return list(events)
    kept = []
    for event, found in zip(events, marks, strict=True):
        if hits.isdisjoint(found):
            kept.append(event)
            continue
        names = {found[mark]: mark for mark in hits & found.keys() if found[mark]}
        entitlement, body = scrub(event.entitlement_id, event.body, names)
        kept.append(event.model_copy(update={"entitlement_id": entitlement, "body": body}))
    return kept


def ids_of(event: Event) -> set[str]:
    """The entitlement ids an event names (its own, its body's, its uses', an admission's)."""
    body = event.body
    found = {event.entitlement_id, body.get("entitlement_id"), body.get("admission")}
    uses = body.get("uses")
    if isinstance(uses, list):
        found.update(use.get("entitlement_id") for use in uses if isinstance(use, dict))
    return {id_ for id_ in found if isinstance(id_, str) and id_ and not id_.startswith(PREFIX)}


def _reference(value: object) -> str | None:
    return normalise_reference(value) if isinstance(value, str) else None


def _read(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")


def _write(conn: sqlite3.Connection, work: Callable[[], Any]) -> Any:
    """One short write transaction, then a pause (gate.cache.erasure: the hub's ingest is not starved)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    time.sleep(PAUSE_S)
    return result


def mentioning(conn: sqlite3.Connection, ids: Collection[str], before: int | None) -> list[int]:
    """The seqs of the log's batches whose lines mention one of `ids` (as a JSON string)."""
    if not ids:
        return []
    # In a batch's payload its lines are one JSON string: their quotes come escaped.
    needles = json.dumps([json.dumps(json.dumps(id_))[1:-1] for id_ in ids])
    query = """SELECT seq FROM batch WHERE seq < ?
               AND EXISTS (SELECT 1 FROM json_each(?) n WHERE instr(payload, n.value) > 0) ORDER BY seq"""
    return [seq for (seq,) in conn.execute(query, (2**62 if before is None else before, needles))]
