"""Peers' redemptions: what the other devices of the site did with the site's entitlements.

The sync process receives every device's journal rows (gate/sync) and applies the ones that
change usage here, in one short transaction per message: a peer's held redemption counts as
used (its uses `held`) until its hold expires (`hold_s` after it arrived: the longest
passage plus a margin) or the peer finishes it; its commit counts for good (its final uses,
trimmed to who passed, and the admission record a voucher's redemption created, so a kiosk's
voucher opens the lanes of every device); a release leaves nothing; a void gives the uses
back and withdraws that admission. They live in
`peer_use` and `peer_redemption`, apart from this gate's journal, and never enter its outbox;
`Ledger.uses` counts them in every decision (gate/cache/sql.py USES).

A redemption only moves forward (held, then committed or released, then voided), so rows
that arrive twice or out of order (a reconnect sends again from the floor) change nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from gate.cache.admissions import create_admission
from gate.cache.exchange import BUMP_REVISION
from gate.cache.occupancy import add_peers
from gate.cache.redemptions import COMMITTED, HELD, RELEASED, VOIDED, Statements
from gate.cache.voids import withdraw_admission
from gate.decision import Use
from gate.records import Ticket

APPLIED = frozenset({HELD, COMMITTED, RELEASED, VOIDED})
OCCUPANCY = "staff.occupancy"  # a correction of the site's counter: its `change` is a movement
_RANK = {HELD: 1, COMMITTED: 2, RELEASED: 2, VOIDED: 3, OCCUPANCY: 3}
_STATE = "SELECT state FROM peer_redemption WHERE id = ?"
_PUT_STATE = """
INSERT INTO peer_redemption (id, device, state, at) VALUES (?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET state = excluded.state, at = excluded.at
"""
_DROP_USES = "DELETE FROM peer_use WHERE redemption_id = ?"
_PUT_USE = """
INSERT OR REPLACE INTO peer_use (entitlement_id, redemption_id, part, at, direction, persons, credits, performance,
                                 event, benefit, lane, zone, held, expires)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_EXPIRED = "DELETE FROM peer_use WHERE held = 1 AND expires <= ?"


class PeerRow(Protocol):
    """A peer's journal row as sync received it (gate.sync.payloads.Event)."""

    @property
    def type(self) -> str: ...

    @property
    def redemption_id(self) -> str | None: ...

    @property
    def body(self) -> dict[str, Any]: ...


def apply(conn: Statements, device: str, rows: Iterable[PeerRow], *, now: float, hold_s: float) -> tuple[int, int]:
    """Apply a peer's rows (inside the caller's write transaction): (rows that changed usage,
    rows refused because their uses cannot be read, which change nothing)."""
    changed = bad = 0
    records = False  # a record created or withdrawn: the lanes must know
    conn.execute(_EXPIRED, (now,))
    for row in rows:
        if row.type == OCCUPANCY:
            changed += _corrected(conn, device, row, now)
            continue
        redemption = row.redemption_id or row.body.get("redemption")
        if row.type not in APPLIED or not isinstance(redemption, str):
            continue
        found = conn.execute(_STATE, (redemption,)).fetchone()
        if found is not None and _RANK[found[0]] >= _RANK[row.type]:
            continue  # seen already, or a step behind what is known
        held = row.type == HELD
        given = (row.body.get("uses") or []) if row.type in (HELD, COMMITTED) else []
        expires = now + hold_s if held else now
        try:
            uses = [_use(use, redemption, part, held, expires) for part, use in enumerate(given)]
        except (KeyError, TypeError, ValueError):
            bad += 1
            continue
        try:
            admission = _admission(row) if row.type == COMMITTED else None
        except ValidationError:
            bad += 1
            continue
        conn.execute(_PUT_STATE, (redemption, device, row.type, now))
        conn.execute(_DROP_USES, (redemption,))
        for values in uses:
            conn.execute(_PUT_USE, values)
        if row.type == COMMITTED:
            add_peers(conn, _moved(row))
        if admission is not None and create_admission(conn, admission, voucher=row.body.get("entitlement_id")):
            records = True
        if row.type == VOIDED and isinstance(row.body.get("admission"), str):
            withdraw_admission(conn, row.body["admission"])
            records = True
        changed += 1
    if records:
        conn.execute(BUMP_REVISION)  # the lanes' record caches reload: the admission's code is known
    return changed, bad


def _corrected(conn: Statements, device: str, row: PeerRow, now: float) -> int:
    """A peer's staff correction of the counter, counted once (kept like a finished redemption)."""
    change, row_id = row.body.get("change"), getattr(row, "id", None)  # a snapshot's usage has no rows' ids
    if not isinstance(change, int) or isinstance(change, bool) or not isinstance(row_id, str):
        return 0
    if conn.execute(_STATE, (row_id,)).fetchone():
        return 0
    conn.execute(_PUT_STATE, (row_id, device, OCCUPANCY, now))
    add_peers(conn, change)
    return 1


def _moved(row: PeerRow) -> int:
    """How a peer's commit moved the site's counter: as it said (`moved`), or, from a peer that
    does not say, its persons who passed (an exit at most what it could see, which it did not say)."""
    moved = row.body.get("moved")
    if isinstance(moved, int) and not isinstance(moved, bool):
        return moved
    passed = row.body.get("passed")
    if row.body.get("kiosk") or not isinstance(passed, int):
        return 0
    return passed if row.body.get("direction", "entry") == "entry" else -passed


def _admission(row: PeerRow) -> Ticket | None:
    """The admission record a peer's voucher redemption created, checked like an import's record."""
    record = row.body.get("admission_record")
    return None if record is None else Ticket.model_validate(record)


def _use(use: Mapping[str, Any], redemption: str, part: int, held: bool, expires: float) -> tuple[Any, ...]:
    """A peer's use as its `peer_use` row."""
    u = read_use(use)
    return (u.entitlement_id, redemption, part, u.at, u.direction, u.persons, u.credits, u.performance, u.event,
            u.benefit, u.lane, u.zone, int(held), expires)  # fmt: skip


def read_use(use: Mapping[str, Any]) -> Use:
    """A use as a journal row's body gives it, checked field by field (TypeError or ValueError
    when it is not one): what peers count, and what the hub judges conflicts by."""
    entitlement, direction, lane, zone = (use[key] for key in ("entitlement_id", "direction", "lane", "zone"))
    if not all(isinstance(value, str) for value in (entitlement, direction, lane, zone)):
        raise TypeError("a use's ids are text")
    persons, credits, benefit = use["persons"], use["credits"], use.get("benefit")
    if not (isinstance(persons, int) and isinstance(credits, int) and (benefit is None or isinstance(benefit, int))):
        raise TypeError("a use's counts are integers")
    performance, event = use.get("performance"), use.get("event")
    if not all(value is None or isinstance(value, str) for value in (performance, event)):
        raise TypeError("a use's show is text")
    at = dt.datetime.fromisoformat(str(use["at"])).timestamp()
    return Use(entitlement, at, direction, persons, credits, performance, event, benefit, lane, zone)


_END_HOLDS = """
UPDATE peer_use SET expires = ? WHERE held = 1 AND expires > ? AND redemption_id IN (
    SELECT id FROM peer_redemption WHERE device = ? AND state = 'redemption.held')
"""


def peer_offline(conn: Statements, device: str, *, now: float) -> int:
    """A peer went offline (its will): its holds stop counting now (its later commit still counts).
    Returns how many held uses ended."""
    return int(conn.execute(_END_HOLDS, (now, now, device)).rowcount)
