"""Erasure on a device: a holder erased at the back office leaves no trace of their entitlements here.

The back office erases a holder by deleting them and their entitlements: tombstones in a ledger
file, which reach the device as one of the hub's batches (docs/privacy.md). Importing the batch
removes the records (name, references); what this module does is the rest, the traces the
entitlements left in what the gate did:

- the journal's rows about them (decisions, refusals, lookups, staff acts): the entitlement id
  becomes a keyed pseudonym, the scanned code, the decision's parameters, free text (a staff
  act's `why`) and a voucher's admission record go; counts, times, lanes, zones, kinds and
  reason codes stay, so the site's figures stay right;
- the uses the decisions read (`usage`, the folded journal, and peers' `peer_use`), and a hold
  still open (`hold`), under the same pseudonym: an erased entitlement is deleted, so no
  decision reads them any more, and a pseudonym never collides with another entitlement's id;
- the admission a kiosk made from an erased voucher (a local record): deleted, with a tombstone
  of its version so a peer's late row cannot bring it back.

Which entitlements: those the batch deletes whose holder the batch (or an earlier one) deletes,
and the admissions made from them. Ones the back office keeps keep their history: they may still
be presented, and their uses decide. The pseudonym is an HMAC with a random key kept in this
ledger's meta: the same entitlement gets the same pseudonym on this device, and nothing reads the
id back out of it.

Crash safety. The plan (the ids to erase) is read before the import, while the records still
say whose they are, and kept in the ledger's meta (`erasure.pending`) by the import's own
transaction (gate/sync/batches.py): a refused batch leaves none. `carry_out` does the work after
it in short transactions and clears the plan last; a sync process killed in between carries it
out when it starts again, or at the next batch. An entitlement is only ever erased once the
ledger no longer holds it, so a record brought back by a higher version keeps its uses.

The work runs on a connection of its own, which moves SQLite's data_version for every other
connection (the lanes' and sync's own): their in-memory tails (gate/cache/tail.py) reload from
the tables this rewrites, after a fold that this transaction makes too, so no process folds the
old ids back in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gate.cache.exchange import BUMP_REVISION
from gate.cache.redemptions import insert_event
from gate.cache.schema import connect
from gate.cache.sql import GET_META, PUT_SETTING, SETTING_PREFIX
from gate.cache.tail import Tail
from gate.records import normalise_reference

log = logging.getLogger("gate.cache")
_T = TypeVar("_T")

PREFIX = "erased-"  # a pseudonym's look: an Id, and plainly not an entitlement's
PENDING = "erasure.pending"  # the device setting holding a plan not carried out yet
ERASURE_EVENT = "ledger.erasure"  # the journal row that says this device erased (counts only)
CHUNK = 200  # journal rows rewritten per transaction: the lanes' writers wait a few ms at most
PAUSE_S = 0.01  # between two of those: the lock free for the lanes (`_write`)
# What a journal body about an erased entitlement keeps: what the figures need, and the ids of
# rows and staff (not the holder's). Everything else (a staff act's `why`, a voucher's admission
# record, fields this list does not know) goes.
KEEP = frozenset({
    "redemption", "verdict", "reason", "admitted", "entitlement_id", "kind", "balance", "covered", "to_pay", "kiosk",
    "lane", "zone", "direction", "reference", "held_at", "at", "passed", "uses", "admission", "decision", "staff",
    "refused", "confirmed", "outcome", "committed_seq", "params", "session", "role", "mode", "offline", "clock",
})  # fmt: skip


def pseudonym(key: bytes, value: str) -> str:
    """The keyed pseudonym of an id (or, with a `ref:` prefix, of a reference)."""
    return PREFIX + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


def mentions(entitlement_id: str | None, body: Mapping[str, Any], ids: Mapping[str, str] | frozenset[str],
             references: frozenset[str]) -> bool:  # fmt: skip
    """Whether a journal row (its entitlement id and body) is about one of `ids` or names one of
    `references` (normalised codes)."""
    if entitlement_id in ids or body.get("entitlement_id") in ids:
        return True
    admission = body.get("admission")
    if isinstance(admission, str) and admission in ids:
        return True
    uses = body.get("uses")
    if isinstance(uses, list) and any(isinstance(use, dict) and use.get("entitlement_id") in ids for use in uses):
        return True
    reference = body.get("reference")
    return bool(references) and isinstance(reference, str) and normalise_reference(reference) in references


def scrub(
    entitlement_id: str | None, body: Mapping[str, Any], names: Mapping[str, str]
) -> tuple[str | None, dict[str, Any]]:
    """A journal row about an erased entitlement, as it is kept: ids replaced by their pseudonyms
    (`names`), the scanned code, the parameters and free text gone; what the figures need kept.
    The keys the ledger's readers need stay (empty), so a row stays readable everywhere."""
    out: dict[str, Any] = {key: value for key, value in body.items() if key in KEEP}
    for key in ("entitlement_id", "admission"):  # a held row's admission is the whole record: the holder's
        value = out.get(key)
        if key in out:
            out[key] = names.get(value, value) if isinstance(value, str) else None
    if "uses" in out:
        out["uses"] = [_use(use, names) for use in out["uses"]] if isinstance(out["uses"], list) else []
    if "reference" in out:
        out["reference"] = ""
    if "params" in out:
        out["params"] = {}
    out["erased"] = True
    return (names.get(entitlement_id, entitlement_id) if entitlement_id else entitlement_id), out


def _use(use: Any, names: Mapping[str, str]) -> Any:
    if not isinstance(use, dict):
        return use
    found = use.get("entitlement_id")
    return {**use, "entitlement_id": names.get(found, found)} if isinstance(found, str) else use


# --- the device's side: planned before a batch's import, carried out after it -------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What a batch erases on this device: entitlement ids (with the admissions made from them),
    their references (normalised) and the holders whose they were."""

    entitlements: tuple[str, ...]  # deleted by the batch
    admissions: tuple[str, ...]  # made here (or at a peer) from those: this device deletes them
    references: tuple[str, ...]
    holders: tuple[str, ...]
    batch: int

    def dump(self) -> str:
        return json.dumps({"entitlements": self.entitlements, "admissions": self.admissions,
                           "references": self.references, "holders": self.holders, "batch": self.batch},
                          separators=(",", ":"))  # fmt: skip

    @classmethod
    def load(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(tuple(data["entitlements"]), tuple(data["admissions"]), tuple(data["references"]),
                   tuple(data["holders"]), int(data["batch"]))  # fmt: skip


def deletions(lines: Iterable[str]) -> tuple[dict[str, int], dict[str, int]]:
    """The holder and entitlement tombstones among exchange-format lines: id -> version."""
    holders: dict[str, int] = {}
    entitlements: dict[str, int] = {}
    for line in lines:
        if '"deleted"' not in line:
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue  # the import names it
        if not isinstance(data, dict) or data.get("deleted") is not True or not isinstance(data.get("id"), str):
            continue
        version = data.get("version")
        target = {"holder": holders, "entitlement": entitlements}.get(str(data.get("type")))
        if target is not None:
            target[data["id"]] = max(target.get(data["id"], 0), version if isinstance(version, int) else 0)
    return holders, entitlements


_HOLDER_OF = "SELECT holder FROM entitlement WHERE id = ?"
_HOLDER_DELETED = "SELECT 1 FROM tombstone WHERE type = 'holder' AND id = ?"
_ADMISSIONS = "SELECT id FROM entitlement WHERE kind = 'ticket' AND predecessor = ?"
_REFERENCES = "SELECT code FROM reference WHERE entitlement_id = ?"


def planned(path: Path, text: str, *, batch: int) -> Plan | None:
    """Before a batch is imported: what it erases here (None: nothing, the usual case, decided
    without opening anything when the batch deletes no holder)."""
    if '"holder"' not in text or '"deleted"' not in text:
        return None
    holders, entitlements = deletions(text.splitlines())
    if not entitlements:
        return None
    conn = connect(path, create=False)
    try:
        conn.execute("BEGIN")
        erased: list[str] = []
        whose: set[str] = set()
        for entitlement in entitlements:
            row = conn.execute(_HOLDER_OF, (entitlement,)).fetchone()
            holder = row[0] if row else None
            if holder is None:
                continue
            if holder in holders or conn.execute(_HOLDER_DELETED, (holder,)).fetchone() is not None:
                erased.append(entitlement)
                whose.add(holder)
        admissions = [a for e in erased for (a,) in conn.execute(_ADMISSIONS, (e,))]
        references = sorted({code for e in (*erased, *admissions) for (code,) in conn.execute(_REFERENCES, (e,))})
        conn.execute("COMMIT")
    finally:
        conn.close()
    if not erased:
        return None
    return Plan(tuple(erased), tuple(admissions), tuple(references), tuple(sorted(whose)), batch)


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure did here: entitlements erased, journal rows rewritten."""

    entitlements: int
    rows: int
    skipped: int  # planned, but the ledger still holds them (brought back): kept as they are


_KEY = "erasure_key"
_GONE = """
SELECT NOT EXISTS (SELECT 1 FROM entitlement WHERE id = ?1) AND EXISTS (
    SELECT 1 FROM tombstone WHERE type = 'entitlement' AND id = ?1)
"""
_LOCAL = "SELECT version FROM entitlement WHERE id = ?"
_DROP_LOCAL = (
    "DELETE FROM reference WHERE entitlement_id = :id",
    "DELETE FROM entitlement WHERE id = :id",
    """INSERT INTO tombstone (type, id, version) VALUES ('entitlement', :id, :version)
       ON CONFLICT (type, id) DO UPDATE SET version = max(version, excluded.version)""",
)
_ROWS = """
SELECT seq FROM journal WHERE seq <= ?3 AND (
    entitlement_id IN (SELECT value FROM json_each(?1))
    OR EXISTS (SELECT 1 FROM json_each(?1) k WHERE instr(body, '"' || k.value || '"') > 0)
    OR erasure_reference(json_extract(body, '$.reference')) IN (SELECT value FROM json_each(?2)))
"""
_ROW = "SELECT entitlement_id, body FROM journal WHERE seq = ?"
_PUT_ROW = "UPDATE journal SET entitlement_id = ?, body = ? WHERE seq = ?"
_RENAME = (
    "UPDATE usage SET entitlement_id = ?2 WHERE entitlement_id = ?1",
    "UPDATE peer_use SET entitlement_id = ?2 WHERE entitlement_id = ?1",
)
_HOLDS = "SELECT id, entitlement_id, body, plan FROM hold"
_PUT_HOLD = "UPDATE hold SET entitlement_id = ?, reference = '', body = ?, plan = ? WHERE id = ?"


def carry_out(path: Path, *, now: dt.datetime | None = None) -> Erased | None:
    """After the import: the kept plan carried out (None when there is none), in short
    transactions, the plan cleared last. Running it again after a crash does what is left."""
    with _Connection(path) as conn:
        found = conn.execute(GET_META, (SETTING_PREFIX + PENDING,)).fetchone()
        if found is None:
            return None
        plan = Plan.load(found[0])
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Only what the ledger no longer holds: a refused batch, or a record brought back by a
            # higher version, keeps its uses (a used ticket stays used).
            erased = [e for e in plan.entitlements if conn.execute(_GONE, (e,)).fetchone()[0]]
            skipped = len(plan.entitlements) - len(erased)
            for admission in plan.admissions:  # a kiosk's admission from an erased voucher: ours to delete
                local = conn.execute(_LOCAL, (admission,)).fetchone()
                if local is not None:
                    for statement in _DROP_LOCAL:
                        conn.execute(statement, {"id": admission, "version": local[0]})
                if local is not None or conn.execute(_GONE, (admission,)).fetchone()[0]:
                    erased.append(admission)
            key = _key(conn)
            names = {entitlement: pseudonym(key, entitlement) for entitlement in erased}
            mark = 0
            if erased:
                at = now or dt.datetime.now(dt.UTC)
                body = {"entitlements": len(erased), "batch": plan.batch}
                _, mark = insert_event(conn, ERASURE_EVENT, at=at, lane=None, entitlement_id=None, redemption_id=None,
                                       reason="erasure", body=body)  # fmt: skip
                _fold(conn)
                conn.execute(BUMP_REVISION)
                _scrub_holds(conn, names)  # with the fold: a lane's tail reloads its holds from here
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        for old, new in names.items():  # one entitlement's uses per transaction: nobody decides on it now
            _write(conn, functools.partial(_rename, conn, old, new))
        rows = _scrub_journal(conn, names, frozenset(plan.references), through=mark) if names else 0
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM meta WHERE key = ?", (SETTING_PREFIX + PENDING,))
        conn.execute("COMMIT")
    log.info("erasure of batch %d: %d entitlement(s) of %d holder(s) erased, %d journal row(s) rewritten, %d kept "
             "(the ledger holds them again)", plan.batch, len(erased), len(plan.holders), rows, skipped)  # fmt: skip
    return Erased(len(erased), rows, skipped)


def _key(conn: sqlite3.Connection) -> bytes:
    row = conn.execute(GET_META, (_KEY,)).fetchone()
    if row is not None:
        return bytes.fromhex(row[0])
    key = secrets.token_bytes(32)
    conn.execute(PUT_SETTING, (_KEY, key.hex()))
    return key


def _fold(conn: sqlite3.Connection) -> None:
    """Fold the whole journal, this erasure's own row included: the fold mark moves, so every
    other connection's tail reloads from the tables this transaction rewrites."""
    tail = Tail()
    tail.refresh(conn)
    tail.fold(conn)


def _scrub_holds(conn: sqlite3.Connection, names: Mapping[str, str]) -> None:
    for id_, entitlement, body, plan in conn.execute(_HOLDS).fetchall():
        rows = json.loads(plan)
        if entitlement not in names and not any(row[0] in names for row in rows):
            continue
        new_entitlement, new_body = scrub(entitlement, json.loads(body), names)
        new_body.pop("erased", None)
        rows = [[names.get(row[0], row[0]), *row[1:]] for row in rows]
        conn.execute(_PUT_HOLD, (new_entitlement, _dumps(new_body), _dumps(rows), id_))


def _scrub_journal(conn: sqlite3.Connection, names: Mapping[str, str], references: frozenset[str],
                   *, through: int) -> int:  # fmt: skip
    """The journal's rows about the erased entitlements, found in one read (the lanes go on
    writing meanwhile) and rewritten CHUNK rows per transaction."""
    ids, codes = json.dumps(sorted(names)), json.dumps(sorted(references))
    conn.execute("BEGIN")
    seqs = [seq for (seq,) in conn.execute(_ROWS, (ids, codes, through))]
    conn.execute("COMMIT")
    chunks = [seqs[start : start + CHUNK] for start in range(0, len(seqs), CHUNK)]
    return sum(_write(conn, functools.partial(_rewrite, conn, chunk, names, references)) for chunk in chunks)


def _rename(conn: sqlite3.Connection, old: str, new: str) -> None:
    for statement in _RENAME:
        conn.execute(statement, (old, new))


def _rewrite(conn: sqlite3.Connection, seqs: list[int], names: Mapping[str, str], references: frozenset[str]) -> int:
    rewritten = 0
    for seq in seqs:
        row = conn.execute(_ROW, (seq,)).fetchone()
        found = None if row is None else json.loads(row[1])
        if found is None or not mentions(row[0], found, names, references):
            continue  # pruned meanwhile, or the id was only text in another field
        entitlement, body = scrub(row[0], found, names)
        conn.execute(_PUT_ROW, (entitlement, _dumps(body), seq))
        rewritten += 1
    return rewritten


def _write(conn: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    """One short write transaction, then a pause: SQLite gives the lock to no one in turn, and a
    lane's busy handler sleeps in growing steps, so back-to-back writes would starve it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = work()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    time.sleep(PAUSE_S)
    return done


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _reference(value: object) -> str | None:
    return normalise_reference(value) if isinstance(value, str) else None


class _Connection:
    """A connection of the erasure's own: durable commits (synchronous FULL) and deleted content
    overwritten in the file (secure_delete), closed on leaving."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path, create=False)
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA secure_delete = ON")
        self._conn.create_function("erasure_reference", 1, _reference, deterministic=True)

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._conn.close()

