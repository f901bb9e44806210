"""Erasure at the hub, the PostgreSQL store's side: what gate/hub/erasure.py does on SQLite, on a
venue's rows (gate/hub/postgres.py calls these; the plan, the pseudonyms and the scrubbing are
erasure.py's and gate/cache/erasure.py's).

The request is stored in the transaction that appends the file's batches, carried out after
it in short transactions (the hub goes on storing events meanwhile), and forgotten last; a
hub killed in between finds it again. Events are found by a query that may return more than
they are (a reference is compared in SQL after a cruder normalisation), and each one is
checked again in Python (`mentions`) before it is rewritten.

PostgreSQL keeps a rewritten row's old version until VACUUM reclaims it (autovacuum does, soon
after), and its write-ahead log and backups keep it as long as they are kept (docs/scale.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import psycopg

from gate.cache.erasure import mentions, pseudonym, scrub
from gate.hub import erasure
from gate.hub.erasure import CHUNK, Done, Redact, Request
from gate.sync.batches import Batch
from gate.sync.payloads import Event

log = logging.getLogger("gate.hub")

Cursor = psycopg.Cursor[Any]
Transaction = Callable[[], contextlib.AbstractContextManager[Cursor]]

_KEY = "erasure_key"
_ADMISSIONS = """
SELECT DISTINCT body::json ->> 'admission' FROM event
WHERE site = %s AND entitlement_id = ANY(%s) AND type = 'redemption.committed'
  AND json_typeof(body::json -> 'admission') = 'string'
"""
# Python's str.split() also splits at \x1c-\x1f (GS1 codes carry \x1d); a reference with
# anything past ASCII is left to Python (case and blanks beyond ASCII differ between the two).
_REFERENCE = r"""
OR (strpos(body, '"reference"') > 0 AND (
    upper(regexp_replace(body::json ->> 'reference', '[[:space:]\x1c-\x1f]', '', 'g')) = ANY(%(refs)s)
    OR body::json ->> 'reference' ~ '[^\x01-\x7f]'))
"""
_EVENTS = """
SELECT device, incarnation, seq FROM event WHERE site = %(site)s AND (entitlement_id = ANY(%(names)s)
    OR EXISTS (SELECT 1 FROM unnest(%(names)s::text[]) AS k WHERE strpos(body, '"' || k || '"') > 0)
"""
_EVENT = "SELECT entitlement_id, body FROM event WHERE site = %s AND device = %s AND incarnation = %s AND seq = %s"
_PUT_EVENT = """
UPDATE event SET entitlement_id = %s, body = %s WHERE site = %s AND device = %s AND incarnation = %s AND seq = %s
"""


def add_request(cur: Cursor, site: str, request: Request, now: float) -> None:
    """Inside the transaction that appends the file's batches."""
    cur.execute("INSERT INTO erasure (site, request, at) VALUES (%s, %s, %s)", (site, request.dump(), now))


def pending(cur: Cursor, site: str) -> list[tuple[int, Request]]:
    rows = cur.execute("SELECT id, request FROM erasure WHERE site = %s AND request <> '' ORDER BY id", (site,))
    return [(int(number), Request.load(text)) for number, text in rows]


def carry_out(tx: Transaction, site: str, number: int, request: Request, redact: Redact | None) -> Done:
    """Carry out a stored request in short transactions (each `tx()`), then forget it (`redact`
    None: the log is left for a run that can sign, and the request stays)."""
    with tx() as cur:
        names, codes = _erased(cur, site, request)
    query = _EVENTS + (_REFERENCE if request.references else "") + ")"
    with tx() as cur:
        keys = cur.execute(query, {"site": site, "names": sorted(names), "refs": sorted(request.references)}).fetchall()
    events = 0
    for start in range(0, len(keys), CHUNK):
        with tx() as cur:
            events += _scrub_events(cur, site, keys[start : start + CHUNK], names, codes)
    cut = 0
    if redact is not None:
        with tx() as cur:
            seqs = mentioning(cur, site, [id_ for _, id_, _ in request.cut], request.before)
        for seq in seqs:
            with tx() as cur:
                cut += _redact(cur, site, seq, redact)
        with tx() as cur:  # done: its ids and codes go; its time stays (no snapshot older than it is served)
            cur.execute("UPDATE erasure SET request = '' WHERE site = %s AND id = %s", (site, number))
    log.info("erasure: %d holder(s), %d entitlement(s): %d event(s) pseudonymised, %d batch(es) of the log cut and "
             "signed again%s", len(request.holders), len(names), events, cut,
             "" if redact else " (not yet: the log is cut by a hub that holds the ledger key)")  # fmt: skip
    return Done(len(names), events, cut)


def _erased(cur: Cursor, site: str, request: Request) -> tuple[dict[str, str], frozenset[str]]:
    """The pseudonyms, kept so that late events are pseudonymised on arrival (`late`)."""
    key = _key(cur, site)
    ids = list(request.entitlements)
    ids += [a for (a,) in cur.execute(_ADMISSIONS, (site, ids)) if isinstance(a, str) and a not in ids]
    names = {id_: pseudonym(key, id_) for id_ in ids}
    marks = [*names.values(), *(pseudonym(key, f"ref:{code}") for code in request.references)]
    cur.execute("INSERT INTO erased (site, pseudonym) SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                (site, marks))  # fmt: skip
    return names, frozenset(request.references)


def _scrub_events(cur: Cursor, site: str, keys: Iterable[tuple[str, str, int]], names: dict[str, str],
                  codes: frozenset[str]) -> int:  # fmt: skip
    done = 0
    for key in keys:
        row = cur.execute(_EVENT, (site, *key)).fetchone()
        body = None if row is None else json.loads(row[1])
        if row is None or not isinstance(body, dict) or not mentions(row[0], body, names, codes):
            continue
        entitlement, new = scrub(row[0], body, names)
        cur.execute(_PUT_EVENT, (entitlement, json.dumps(new, separators=(",", ":")), site, *key))
        done += 1
    return done


def _redact(cur: Cursor, site: str, seq: int, redact: Redact) -> int:
    row = cur.execute("SELECT payload FROM batch WHERE site = %s AND seq = %s FOR UPDATE", (site, seq)).fetchone()
    if row is None:
        return 0
    batch = redact(Batch.model_validate_json(row[0]))
    if batch is None:
        return 0
    cur.execute("UPDATE batch SET payload = %s WHERE site = %s AND seq = %s", (batch.model_dump_json(), site, seq))
    log.info("erasure: batch %d of the log cut and signed again", seq)
    return 1


def _key(cur: Cursor, site: str) -> bytes:
    """The venue's pseudonym key (made once: two hubs making it at once keep the first)."""
    cur.execute("INSERT INTO hub_meta (site, key, value) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (site, _KEY, secrets.token_bytes(32).hex()))  # fmt: skip
    row = cur.execute("SELECT value FROM hub_meta WHERE site = %s AND key = %s", (site, _KEY)).fetchone()
    assert row is not None
    return bytes.fromhex(row[0])


def late(cur: Cursor, site: str, events: Sequence[Event]) -> list[Event]:
    """Inside the transaction that stores `events`: any about an erased entitlement (a device cut
    off while the hub erased) pseudonymised before it is stored. One look-up per message."""
    row = cur.execute("SELECT EXISTS (SELECT 1 FROM erased WHERE site = %s)", (site,)).fetchone()
    if row is None or not row[0]:
        return list(events)
    query = "SELECT pseudonym FROM erased WHERE site = %s AND pseudonym = ANY(%s)"

    def erased(marks: list[str]) -> set[str]:
        return {mark for (mark,) in cur.execute(query, (site, marks))}

    return erasure.pseudonymised(events, _key(cur, site), erased)


def mentioning(cur: Cursor, site: str, ids: Collection[str], before: int | None) -> list[int]:
    """The seqs of the log's batches whose lines mention one of `ids` (as a JSON string)."""
    if not ids:
        return []
    # In a batch's payload its lines are one JSON string: their quotes come escaped.
    needles = [json.dumps(json.dumps(id_))[1:-1] for id_ in ids]
    query = """SELECT seq FROM batch WHERE site = %s AND seq < %s
               AND EXISTS (SELECT 1 FROM unnest(%s::text[]) AS n WHERE strpos(payload, n) > 0) ORDER BY seq"""
    return [int(seq) for (seq,) in cur.execute(query, (site, 2**62 if before is None else before, needles))]
