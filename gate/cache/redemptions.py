"""Redemptions (held -> committed | released), refusals, staff events and the journal.

Every function here runs inside a transaction its caller opened. Each finished redemption,
refusal and staff action writes its journal row in the same transaction as the change it
records: the journal can never say something happened that did not, nor miss something that
did.

A commit's cost is the number of distinct pages it dirties (each is a WAL frame written
before the fsync), so every step of a redemption is one journal row appended to the
journal's tail page and nothing else: `redemption.held`, then `redemption.committed` (with
its uses) or `redemption.released`. The journal row also carries the occupancy counter.
Tables `usage` and `hold` are the journal folded up to meta.folded_through, brought up to
date when the lane is idle (`fold`); what lies past that mark is kept in memory by
gate/cache/tail.py. See docs/performance.md, "Ledger internals".
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import pydantic_core

from gate.cache import occupancy
from gate.cache.admissions import create_admission
from gate.cache.codec import body_of, dumps, epoch, instant, json_safe, new_id
from gate.cache.errors import LedgerError
from gate.decision import Decision, Lane
from gate.reasons import Verdict
from gate.records import Direction, Ticket

log = logging.getLogger("gate.cache")


class Hold(NamedTuple):
    """A redemption still held: decided, the lane opened, no passage committed or released yet."""

    id: str
    lane: str
    zone: str
    direction: Direction
    reference: str
    entitlement_id: str | None
    reason: str
    admitted: int
    at: dt.datetime


class JournalEntry(NamedTuple):
    seq: int
    id: str
    at: dt.datetime
    type: str  # redemption.held, .committed, .released, refusal, attention, or a staff action
    lane: str | None
    entitlement_id: str | None
    redemption_id: str | None
    reason: str | None
    body: dict[str, Any]
    published_at: dt.datetime | None


# What runs a statement: the ledger passes its own cursor on the hot path (a connection's
# `execute` makes and registers a new cursor for each statement, about 1 us), the
# connection elsewhere. Each function fetches what it runs before it runs the next.
Statements = sqlite3.Connection | sqlite3.Cursor

# A planned use without its `held` flag: entitlement_id, at, direction, persons, credits,
# performance, event, benefit, lane, zone (the order of Use's fields).
_PlanRow = Sequence[Any]

HELD, COMMITTED, RELEASED = "redemption.held", "redemption.committed", "redemption.released"
VOIDED = "redemption.voided"  # a committed one's uses given back by staff (gate/cache/voids.py)
_INSERT_HOLD = """
INSERT INTO hold (id, lane, zone, direction, reference, entitlement_id, reason, admitted, at, body, plan)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_HOLDS = "SELECT id, lane, zone, direction, reference, entitlement_id, reason, admitted, at, body, plan FROM hold"
_DELETE_HOLD = "DELETE FROM hold WHERE id = ?"
FOLDED_THROUGH = "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'folded_through'"
_SET_FOLDED_THROUGH = "UPDATE meta SET value = ? WHERE key = 'folded_through'"
# Journal rows past a seq; the bodies of redemption rows only (the tail's input).
_TAIL = """
SELECT seq, type, redemption_id,
       CASE WHEN type IN ('redemption.held', 'redemption.committed', 'redemption.released', 'redemption.voided')
       THEN body END
FROM journal WHERE seq > ? ORDER BY seq
"""
_INSERT_USAGE = """
INSERT INTO usage (entitlement_id, seq, part, at, direction, persons, credits, performance, event, benefit, lane, zone)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
# The occupancy counter is carried by the newest journal row (0 before any); max(0, ...)
# keeps it a count.
INSIDE = "SELECT coalesce((SELECT inside FROM journal ORDER BY seq DESC LIMIT 1), 0)"
_INSERT_JOURNAL = f"""
INSERT INTO journal (id, at, type, lane, entitlement_id, redemption_id, reason, body, inside)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, max(0, ({INSIDE}) + ?))
"""
# A finished redemption is known by its journal row. Ids are time-ordered, so the rows that
# can record it come after its id: the scan goes back from the newest row and stops at the
# first one that records it or is older than it (at once for an id that is not ours).
_FINISHED = """
SELECT redemption_id = ?1, type FROM journal
WHERE (redemption_id = ?1 AND type IN ('redemption.committed', 'redemption.released')) OR id < ?1
ORDER BY seq DESC LIMIT 1
"""
# Open holds without the in-memory tail (for `gate doctor`'s read-only look): folded holds
# not finished since, and held rows past the mark with no finishing row after them.
FOLD_MARK = "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'folded_through'), 0)"
OPEN_HOLD_COUNT = f"""
SELECT (SELECT count(*) FROM hold WHERE id NOT IN (
            SELECT redemption_id FROM journal
            WHERE seq > {FOLD_MARK} AND type IN ('redemption.committed', 'redemption.released')))
     + (SELECT count(*) FROM journal j WHERE j.seq > {FOLD_MARK} AND j.type = 'redemption.held'
        AND NOT EXISTS (SELECT 1 FROM journal k WHERE k.seq > j.seq AND k.redemption_id = j.redemption_id
                        AND k.type IN ('redemption.committed', 'redemption.released')))
"""
PUBLISHED_THROUGH = "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'published_through')"
_JOURNAL = """
SELECT seq, id, at, type, lane, entitlement_id, redemption_id, reason, body, published_at FROM journal
WHERE seq > ? ORDER BY seq LIMIT ?
"""
_UNPUBLISHED = f"""
SELECT seq, id, at, type, lane, entitlement_id, redemption_id, reason, body, published_at FROM journal
WHERE seq > max(?, {PUBLISHED_THROUGH}) AND published_at IS NULL ORDER BY seq LIMIT ?
"""
_PUBLISH = "UPDATE journal SET published_at = ? WHERE seq = ? AND published_at IS NULL"
# Everything up to the first unpublished row (or the newest row) is published.
ADVANCE = f"""
UPDATE meta SET value = coalesce(
    (SELECT min(seq) - 1 FROM journal WHERE seq > {PUBLISHED_THROUGH} AND published_at IS NULL),
    (SELECT max(seq) FROM journal), 0)
WHERE key = 'published_through'
"""


class Redemption(NamedTuple):
    """What finishing a redemption needs: from a held journal row or hold row, or straight from a decision."""

    lane: str
    zone: str
    direction: str
    reference: str
    entitlement_id: str | None
    reason: str
    admitted: int
    at: float
    summary: dict[str, Any]  # decision_summary, plus "kiosk" for a kiosk
    plan: list[_PlanRow]
    admission: Ticket | None


def decision_summary(decision: Decision) -> dict[str, Any]:
    """What the journal and a held redemption keep of a decision: never the holder's name.

    `balance`, `covered` and `to_pay` only when the decision has them (a credit membership's,
    a subscription's): most rows are a ticket's, and the hot path writes them.
    """
    summary: dict[str, Any] = {
        "verdict": decision.verdict.value,
        "reason": decision.reason.value,
        "params": json_safe(decision.params) if decision.params else {},
        "admitted": decision.admitted,
        "entitlement_id": decision.entitlement_id,
        "kind": decision.kind,
    }
    if decision.balance is not None:
        summary["balance"] = decision.balance
    if decision.covered:
        summary["covered"] = list(decision.covered)
    if decision.to_pay is not None:
        summary["to_pay"] = decision.to_pay
    return summary


def marked(summary: dict[str, Any], lane: Lane) -> dict[str, Any]:
    """What the hub needs to judge a conflict: decided cut off from the site, or on an untrusted clock."""
    if lane.offline_s is not None:
        summary["offline"] = True
    if lane.clock_untrusted:
        summary["clock"] = "untrusted"
    return summary


def _dump(value: Any) -> str:
    """Compact JSON of a body built from JSON-safe parts only (no second json_safe walk).

    pydantic-core's encoder writes the same text as json.dumps(separators=(",", ":"),
    ensure_ascii=False) for such values, about three times faster.
    """
    return pydantic_core.to_json(value).decode()


def _from_decision(
    decision: Decision, lane: Lane, reference: str, when: float, direction: Direction | None
) -> Redemption:
    way: Direction = direction or (decision.plan[0].direction if decision.plan else "entry")
    summary = marked(decision_summary(decision), lane)
    if lane.kiosk:
        summary["kiosk"] = True  # a kiosk redeems; nobody enters the site through it
    return Redemption(
        lane.id, lane.zone, way, reference, decision.entitlement_id, decision.reason.value, decision.admitted,
        when, summary, [use[:-1] for use in decision.plan], decision.admission,
    )  # fmt: skip


class Step(NamedTuple):
    """One step of a redemption (held, committed, released) as journaled: what the in-memory
    tail learns from it."""

    redemption_id: str
    seq: int
    uses: list[_PlanRow]  # the committed uses (none for a hold or a release)
    created: bool  # a local ledger record was created (a voucher's admission)


def insert_hold(
    conn: Statements, decision: Decision, *, lane: Lane, reference: str, at: dt.datetime,
    direction: Direction | None = None,
) -> tuple[Step, Redemption]:  # fmt: skip
    """Journal a redemption as held: one row, from which the tail (and later `fold`) knows it."""
    red = _from_decision(decision, lane, reference, epoch(at), direction)
    redemption_id = new_id()
    text = at.isoformat()
    body = _journal_base(redemption_id, red, held=text, at=text)
    body["uses"] = [_use_json(use, red.at, text) for use in red.plan]
    if red.admission is not None:
        body["admission"] = json.loads(body_of(red.admission))
    # The held row's id is the redemption's: the id of the decision that held it.
    seq = _journal(conn, HELD, red.at, red, redemption_id=redemption_id, body=body, inside=0, row_id=redemption_id)
    log.debug("hold %s: entitlement %s, %d admitted at lane %s", redemption_id, red.entitlement_id, red.admitted,
              red.lane)  # fmt: skip
    return Step(redemption_id, seq, [], False), red


def redeem(
    conn: Statements, decision: Decision, *, lane: Lane, reference: str, at: dt.datetime,
    passed: int | None, direction: Direction | None,
) -> Step:  # fmt: skip
    """Hold and commit at once: one journal row with the final uses."""
    red = _from_decision(decision, lane, reference, epoch(at), direction)
    redemption_id = new_id()
    # One row records both the decision and its commit: it takes the redemption's id, as a held row does.
    return _finish(conn, redemption_id, red, passed=passed, at=at, finished=red.at, row_id=redemption_id)


def not_held(conn: Statements, redemption_id: str) -> LedgerError:
    """The error for finishing a redemption that is not held: finished already, or never issued."""
    found = conn.execute(_FINISHED, (redemption_id,)).fetchone()
    if found is not None and found[0]:
        return LedgerError(f"redemption {redemption_id!r} is already {found[1].removeprefix('redemption.')}")
    return LedgerError(f"no redemption {redemption_id!r}")


def commit_held(
    conn: Statements, redemption_id: str, red: Redemption, *, passed: int | None, at: dt.datetime
) -> Step:
    """Finish a held redemption as committed."""
    return _finish(conn, redemption_id, red, passed=passed, at=at, finished=epoch(at))


def release_held(conn: Statements, redemption_id: str, red: Redemption, *, at: dt.datetime,
                 why: str) -> Step:  # fmt: skip
    return _release(conn, redemption_id, red, at=at, finished=epoch(at), why=why)


def _finish(conn: Statements, redemption_id: str, red: Redemption, *, passed: int | None,
            at: dt.datetime, finished: float, row_id: str | None = None) -> Step:  # fmt: skip
    """Journal the commit with its uses; `finished` is `at` as epoch seconds."""
    passed = red.admitted if passed is None else passed
    if not 0 <= passed <= red.admitted:
        raise LedgerError(f"redemption {redemption_id!r}: passed must be 0..{red.admitted}, not {passed}")
    if passed == 0 and red.admitted > 0:
        return _release(conn, redemption_id, red, at=at, finished=finished, why="nobody passed", row_id=row_id)
    uses = _trim(red.plan, red.admitted - passed) if passed < red.admitted else red.plan
    text = at.isoformat()
    held = _iso(red.at, finished, text)
    body = _journal_base(redemption_id, red, held=held, at=text)
    body["passed"] = passed
    body["uses"] = [_use_json(use, red.at, held) for use in uses]
    if red.admission is not None:
        body["admission"] = red.admission.id
        # The record itself too: the peers create it on receipt, so their lanes admit its code.
        body["admission_record"] = json.loads(body_of(red.admission))
    moved = 0 if red.summary.get("kiosk") else (passed if red.direction == "entry" else -passed)
    if moved:
        body["moved"] = moved = occupancy.move(conn, moved, clamp=True)  # what the site's counter took
    seq = _journal(conn, COMMITTED, finished, red, redemption_id=redemption_id, body=body, inside=moved, row_id=row_id)
    created = False
    if red.admission is not None:
        created = create_admission(conn, red.admission, voucher=red.entitlement_id)
    log.debug("commit %s: entitlement %s, %d of %d passed", redemption_id, red.entitlement_id, passed, red.admitted)
    return Step(redemption_id, seq, list(uses), created)


def _release(
    conn: Statements, redemption_id: str, red: Redemption, *, at: dt.datetime, finished: float, why: str,
    row_id: str | None = None,
) -> Step:
    text = at.isoformat()
    body = _journal_base(redemption_id, red, held=_iso(red.at, finished, text), at=text)
    body["passed"], body["why"] = 0, why
    seq = _journal(conn, RELEASED, finished, red, redemption_id=redemption_id, body=body, inside=0, row_id=row_id)
    log.debug("release %s: entitlement %s (%s)", redemption_id, red.entitlement_id, why)
    return Step(redemption_id, seq, [], False)


# --- reading redemptions back: the tail and the fold ----------------------------------------

_SUMMARY_KEYS = (
    "verdict", "reason", "params", "admitted", "entitlement_id", "kind", "balance", "covered", "to_pay", "kiosk",
)  # fmt: skip


def plan_row(use: Mapping[str, Any]) -> tuple[Any, ...]:
    """A journal body's use (as `_use_json` wrote it) back as a plan row."""
    return (use["entitlement_id"], epoch(dt.datetime.fromisoformat(use["at"])), use["direction"], use["persons"],
            use["credits"], use["performance"], use["event"], use["benefit"], use["lane"], use["zone"])  # fmt: skip


def held_from_journal(body: Mapping[str, Any]) -> Redemption:
    """The redemption a `redemption.held` row recorded."""
    summary = {key: body[key] for key in _SUMMARY_KEYS if key in body}
    admission = body.get("admission")
    return Redemption(
        body["lane"], body["zone"], body["direction"], body["reference"], body["entitlement_id"], body["reason"],
        body["admitted"], epoch(dt.datetime.fromisoformat(body["held_at"])), summary,
        [plan_row(use) for use in body["uses"]], None if admission is None else Ticket.model_validate(admission),
    )  # fmt: skip


def folded_holds(conn: Statements) -> dict[str, Redemption]:
    """The holds folded into table `hold` (open at the fold, maybe finished since)."""
    holds: dict[str, Redemption] = {}
    for id_, lane, zone, direction, reference, entitlement_id, reason, admitted, at, body, plan in conn.execute(_HOLDS):
        summary = json.loads(body)
        admission = summary.pop("admission", None)
        ticket = None if admission is None else Ticket.model_validate(admission)
        holds[id_] = Redemption(
            lane, zone, direction, reference, entitlement_id, reason, admitted, at, summary, json.loads(plan), ticket
        )
    return holds


def tail_rows(conn: Statements, after: int) -> list[tuple[int, str, str | None, str | None]]:
    """Journal rows past `after`: (seq, type, redemption id, body of a redemption row or None)."""
    return conn.execute(_TAIL, (after,)).fetchall()


def fold(
    conn: Statements, *, through: int, uses: Sequence[tuple[int, int, _PlanRow]],
    finished: Iterable[str], opened: Mapping[str, Redemption],
) -> None:  # fmt: skip
    """Write the journal up to `through` into `usage` and `hold`: committed uses (seq, part,
    row), the folded holds that finished, and the holds opened since that are still open."""
    conn.executemany(_INSERT_USAGE, [(row[0], seq, part, *row[1:]) for seq, part, row in uses])
    conn.executemany(_DELETE_HOLD, [(redemption_id,) for redemption_id in finished])
    rows = []
    for redemption_id, red in opened.items():
        body = dict(red.summary)
        if red.admission is not None:
            body["admission"] = json.loads(body_of(red.admission))
        rows.append((redemption_id, red.lane, red.zone, red.direction, red.reference, red.entitlement_id, red.reason,
                     red.admitted, red.at, _dump(body), _dump([list(use) for use in red.plan])))  # fmt: skip
    conn.executemany(_INSERT_HOLD, rows)
    conn.execute(_SET_FOLDED_THROUGH, (str(through),))


def _trim(plan: list[_PlanRow], excess: int) -> list[_PlanRow]:
    """Take back the persons who did not pass from the end of the plan.

    Plan order is first-in-first-out, so trimming from the end keeps credits allocated FIFO;
    a use paid with credits gives one credit back per person trimmed.
    """
    kept = list(plan)
    for index in range(len(kept) - 1, -1, -1):
        if excess <= 0:
            break
        persons, credits = kept[index][3], kept[index][4]
        take = min(persons, excess)
        if take == 0:
            continue
        if take == persons:
            del kept[index]
        else:
            row = list(kept[index])
            row[3:5] = [persons - take, max(0, credits - take)]
            kept[index] = row
        excess -= take
    return kept


def _iso(seconds: float, known: float, text: str) -> str:
    """An epoch instant as ISO text: `text` when it is the `known` instant, which is the usual
    case (a plan's uses share the decision's instant), so it is converted only once."""
    return text if seconds == known else instant(seconds).isoformat()


def _use_json(use: _PlanRow, held: float, held_text: str) -> dict[str, Any]:
    entitlement_id, at, direction, persons, credits, performance, event, benefit, lane, zone = use
    return {"entitlement_id": entitlement_id, "at": _iso(at, held, held_text), "direction": direction,
            "persons": persons, "credits": credits, "performance": performance, "event": event,
            "benefit": benefit, "lane": lane, "zone": zone}  # fmt: skip


def _journal_base(redemption_id: str, red: Redemption, *, held: str, at: str) -> dict[str, Any]:
    return {"redemption": redemption_id, **red.summary, "lane": red.lane, "zone": red.zone,
            "direction": red.direction, "reference": red.reference, "held_at": held, "at": at}  # fmt: skip


def _journal(
    conn: Statements, type_: str, finished: float, red: Redemption, *, redemption_id: str,
    body: Mapping[str, Any], inside: int, row_id: str | None = None,
) -> int:  # fmt: skip
    """Append the journal row of a redemption's step (held, committed, released); returns its seq."""
    cursor = conn.execute(
        _INSERT_JOURNAL,
        (row_id or new_id(), finished, type_, red.lane, red.entitlement_id, redemption_id, red.reason, _dump(body),
         inside),
    )
    return int(cursor.lastrowid or 0)


def insert_refusal(
    conn: Statements, decision: Decision, *, lane: Lane, reference: str, at: dt.datetime,
    direction: Direction = "entry",
) -> tuple[str, int]:  # fmt: skip
    event_id = new_id()
    body = {**marked(decision_summary(decision), lane), "lane": lane.id, "zone": lane.zone, "direction": direction,
            "reference": reference, "at": at.isoformat()}  # fmt: skip
    # An attention verdict is admissible with staff: it is not a refusal, and sync and reports
    # must be able to tell the two apart without reading the body.
    type_ = "attention" if decision.verdict is Verdict.ATTENTION else "refusal"
    cursor = conn.execute(
        _INSERT_JOURNAL,
        (event_id, epoch(at), type_, lane.id, decision.entitlement_id, None, decision.reason.value, _dump(body), 0),
    )  # fmt: skip
    log.debug("%s at lane %s: entitlement %s, %s", type_, lane.id, decision.entitlement_id, decision.reason.value)
    return event_id, int(cursor.lastrowid or 0)


def insert_event(
    conn: Statements, type_: str, *, at: dt.datetime, lane: str | None, entitlement_id: str | None,
    redemption_id: str | None, reason: str | None, body: Mapping[str, Any], inside: int = 0,
) -> tuple[str, int]:  # fmt: skip
    """Journal an event; `inside` moves the occupancy counter (a staff correction), floored at zero."""
    event_id = new_id()
    if inside:
        inside = occupancy.move(conn, inside, clamp=False)
    full = {**body, "at": at.isoformat()}
    row = (event_id, epoch(at), type_, lane, entitlement_id, redemption_id, reason, dumps(full), inside)
    cursor = conn.execute(_INSERT_JOURNAL, row)
    log.info("event %s at lane %s: entitlement %s, %s", type_, lane, entitlement_id, reason)
    return event_id, int(cursor.lastrowid or 0)


def journal(conn: Statements, *, after: int, limit: int, unpublished: bool) -> list[JournalEntry]:
    return [
        JournalEntry(
            seq, id_, instant(at), type_, lane, ent, red, reason, json.loads(body),
            None if published is None else instant(published),
        )
        for seq, id_, at, type_, lane, ent, red, reason, body, published in conn.execute(
            _UNPUBLISHED if unpublished else _JOURNAL, (after, limit)
        )
    ]


def mark_published(conn: Statements, seqs: Sequence[int], *, at: dt.datetime) -> None:
    conn.executemany(_PUBLISH, [(at.timestamp(), seq) for seq in seqs])
    conn.execute(ADVANCE)
