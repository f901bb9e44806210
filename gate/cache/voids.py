"""Staff acts on the journal: finding a decision by its id, and voiding a committed redemption.

A void gives a committed redemption's uses back. Its journal row (`redemption.voided`, with
the redemption's id) is the record; in the same transaction the uses leave table `usage`
when they were already folded into it, and the in-memory tail drops them when they were not
(gate/cache/tail.py applies the row, for this connection and for every other one). A
voucher's redemption created an admission: the void withdraws it, and is refused once that
admission was used, since the visitor is then inside on it.

Journal rows have no index but their seq. Ids are time-ordered, so a row is found by going
back from the newest row and stopping at the first row older than the id: a scan over the
rows written since, which the acts' time limits keep short.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from gate.cache.codec import epoch, instant
from gate.cache.errors import LedgerError
from gate.cache.redemptions import COMMITTED, VOIDED, JournalEntry, Statements, insert_event, plan_row

log = logging.getLogger("gate.cache")

_COLUMNS = "seq, id, at, type, lane, entitlement_id, redemption_id, reason, body, published_at"
# The row with this id, or (first) an older row: nothing when none is found.
_ENTRY = f"SELECT {_COLUMNS}, id = ?1 FROM journal WHERE id <= ?1 ORDER BY seq DESC LIMIT 1"
# The newest row of these types for a redemption, or an older row than the redemption.
_STEP = f"""
SELECT {_COLUMNS}, redemption_id = ?1 FROM journal
WHERE (redemption_id = ?1 AND type IN ('redemption.held', 'redemption.committed', 'redemption.released',
                                       'redemption.voided')) OR id < ?1
ORDER BY seq DESC LIMIT 1
"""
# A staff act's row about a decision, newer than the decision.
_ACTED = f"""
SELECT {_COLUMNS}, type = ?2 FROM journal
WHERE (type = ?2 AND json_extract(body, '$.decision') = ?1) OR id < ?1
ORDER BY seq DESC LIMIT 1
"""
_DELETE_USES = "DELETE FROM usage WHERE seq = ?"
_DELETE_REFERENCES = "DELETE FROM reference WHERE entitlement_id = ?"
_DELETE_ENTITLEMENT = "DELETE FROM entitlement WHERE id = ?"


class NotVoidable(LedgerError):
    """A redemption that cannot be voided as asked (unknown, not committed, too old, its admission used)."""


class Voided(NamedTuple):
    """What a void gave back: the committed row's seq and uses, and the admission withdrawn."""

    journal_id: str
    seq: int
    committed_seq: int
    entitlement_id: str | None
    uses: list[tuple[Any, ...]]  # plan rows
    admission: str | None


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    seq, id_, at, type_, lane, ent, red, reason, body, published = row[:10]
    return JournalEntry(
        seq, id_, instant(at), type_, lane, ent, red, reason, json.loads(body),
        None if published is None else instant(published),
    )  # fmt: skip


def entry(conn: Statements, row_id: str) -> JournalEntry | None:
    """The journal row with this id (a decision's, a redemption's first row), or None."""
    row = conn.execute(_ENTRY, (row_id,)).fetchone()
    return _entry(row) if row is not None and row[10] else None


def acted_on(conn: Statements, decision_id: str, type_: str) -> JournalEntry | None:
    """The newest staff act of `type_` naming this decision in its body, or None."""
    row = conn.execute(_ACTED, (decision_id, type_)).fetchone()
    return _entry(row) if row is not None and row[10] else None


def void(
    conn: Statements, redemption_id: str, *, at: dt.datetime, window_s: float, used: Callable[[str], bool],
    body: Mapping[str, Any],
) -> Voided:  # fmt: skip
    """Void the committed redemption (inside the caller's write transaction).

    NotVoidable, changing nothing, for a redemption that is unknown, not committed (held,
    released, voided already), older than `window_s`, or whose admission was used (`used`,
    which the caller answers from the uses it reads).
    """
    row = conn.execute(_STEP, (redemption_id,)).fetchone()
    if row is None or not row[10]:
        raise NotVoidable(f"no redemption {redemption_id!r}")
    last = _entry(row)
    if last.type != COMMITTED:
        state = last.type.removeprefix("redemption.")
        raise NotVoidable(f"redemption {redemption_id!r} is {state}: only a committed one can be voided")
    age = epoch(at) - epoch(last.at)
    if age > window_s:
        raise NotVoidable(
            f"redemption {redemption_id!r} was committed {age / 3600:.1f} h ago: "
            f"only the last {window_s / 3600:g} h can be voided"
        )
    admission = last.body.get("admission")
    if admission is not None and used(admission):
        raise NotVoidable(f"redemption {redemption_id!r}: its admission {admission!r} was used; it cannot be voided")
    uses = [plan_row(use) for use in last.body.get("uses", [])]
    conn.execute(_DELETE_USES, (last.seq,))  # the folded case; the tail drops the others
    if admission is not None:
        withdraw_admission(conn, admission)
    full = {**body, "redemption": redemption_id, "committed_seq": last.seq, "uses": last.body.get("uses", []),
            "admission": admission}  # fmt: skip
    journal_id, seq = insert_event(
        conn, VOIDED, at=at, lane=last.lane, entitlement_id=last.entitlement_id, redemption_id=redemption_id,
        reason="void", body=full,
    )  # fmt: skip
    log.info("void redemption=%s entitlement=%s uses=%d admission=%s", redemption_id, last.entitlement_id or "-",
             len(uses), admission or "-")  # fmt: skip
    return Voided(journal_id, seq, last.seq, last.entitlement_id, uses, admission)


def withdraw_admission(conn: Statements, admission: str) -> None:
    """The admission a voided voucher redemption had created: gone, with its codes."""
    conn.execute(_DELETE_REFERENCES, (admission,))
    conn.execute(_DELETE_ENTITLEMENT, (admission,))
