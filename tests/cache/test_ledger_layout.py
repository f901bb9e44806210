"""The hot-path layout: a redemption's steps are journal rows only, folded into `usage` and
`hold` when the lane is idle; publishing by high-water mark, the occupancy counter in the
journal, and checkpoints off the decision path."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.cache import Ledger, LedgerError
from gate.cache.codec import ENTITLEMENT_CLASSES, body_of, new_id, parse_entitlement
from gate.cache.ledger import CHECKPOINT_AFTER_COMMITS
from gate.cache.validate import _RECORD
from gate.reasons import Reason

from .helpers import EXAMPLE, NOON, NORTH, admit, deny, use

LATER = NOON + dt.timedelta(seconds=4)


def count(ledger: Ledger, sql: str) -> int:
    return int(ledger._conn.execute(sql).fetchone()[0])


def pages_written(ledger: Ledger, action: Callable[[], object]) -> int:
    """WAL frames one action appended: the pages its transaction wrote. A reader holding an
    old snapshot keeps the WAL from starting over, so the frame count only grows."""
    ledger.record_event("staff.note", at=NOON)  # the WAL has started over: the reader reads from it
    reader = sqlite3.connect(ledger.path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM journal").fetchone()
    try:
        before = int(ledger._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
        action()
        return int(ledger._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]) - before
    finally:
        reader.close()


def test_each_step_of_a_redemption_writes_one_journal_row_and_one_page(ledger: Ledger) -> None:
    ledger.checkpoint(force=True)
    rid = ""

    def hold() -> None:
        nonlocal rid
        rid = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)

    assert pages_written(ledger, hold) == 1
    assert pages_written(ledger, lambda: ledger.commit(rid, at=LATER)) == 1
    one_step = lambda: ledger.redeem(admit("t-3002", use("t-3002", persons=2)), lane=NORTH, reference="T", at=NOON)  # noqa: E731
    assert pages_written(ledger, one_step) == 1
    assert [e.type for e in ledger.journal() if e.type != "staff.note"] == [
        "redemption.held", "redemption.committed", "redemption.committed"
    ]  # fmt: skip
    # Nothing reached `usage` or `hold` yet, and yet the uses count at once.
    assert count(ledger, "SELECT count(*) FROM usage") == count(ledger, "SELECT count(*) FROM hold") == 0
    assert [(u.persons, u.held) for u in ledger.uses(["t-3001", "t-3002"])] == [(1, False), (2, False)]


def test_the_fold_writes_the_journal_into_usage_and_hold(ledger: Ledger, ledger_path: Path) -> None:
    one_step = ledger.redeem(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    committed = ledger.hold(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
    open_ = ledger.hold(admit("t-3003", use("t-3003")), lane=NORTH, reference="T3003", at=NOON)
    ledger.commit(committed, at=LATER)
    before = (ledger.uses(["t-3001", "t-3002", "t-3003"]), ledger.open_holds(), ledger.stats())
    assert ledger.checkpoint(force=True)
    entries = {e.redemption_id: e.seq for e in ledger.journal() if e.type == "redemption.committed"}
    usage = ledger._conn.execute("SELECT entitlement_id, seq, part FROM usage ORDER BY entitlement_id").fetchall()
    assert usage == [("t-3001", entries[one_step], 0), ("t-3002", entries[committed], 0)]  # each use points at its row
    assert ledger._conn.execute("SELECT id FROM hold").fetchall() == [(open_,)]
    assert (ledger.uses(["t-3001", "t-3002", "t-3003"]), ledger.open_holds(), ledger.stats()) == before
    # The open hold finishes after the fold: the next fold takes it out of `hold`.
    ledger.release(open_, at=LATER, why="timeout")
    assert ledger.open_holds() == []
    assert ledger.checkpoint(force=True)
    assert count(ledger, "SELECT count(*) FROM hold") == 0
    with Ledger.open(ledger_path) as reopened:
        assert reopened.uses(["t-3001", "t-3002", "t-3003"]) == before[0][:2]
        assert reopened.stats()["redemptions"] == {"held": 0, "committed": 2, "released": 1}


def test_another_connection_sees_holds_commits_and_folds(ledger: Ledger, ledger_path: Path) -> None:
    """Two lanes' daemons on one ledger: each one's decisions see the other's redemptions at once."""
    with Ledger.open(ledger_path) as other:
        assert other.uses(["t-3001"]) == ()
        rid = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
        assert [(u.held, u.persons) for u in other.uses(["t-3001"])] == [(True, 1)]
        ledger.commit(rid, at=LATER)
        assert [(u.held, u.persons) for u in other.uses(["t-3001"])] == [(False, 1)]
        other.redeem(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=LATER)
        assert [u.persons for u in ledger.uses(["t-3001"])] == [1, 2]
        second = other.hold(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=LATER)
        # One folds; the other, whose tail is now partly in the tables, counts nothing twice.
        assert ledger.checkpoint(force=True)
        assert [u.persons for u in other.uses(["t-3001"])] == [1, 2]
        assert [h.id for h in other.open_holds()] == [second]
        other.commit(second, at=LATER)
        assert ledger.open_holds() == [] and [u.held for u in ledger.uses(["t-3002"])] == [False]
        assert ledger.stats()["redemptions"] == other.stats()["redemptions"] == {
            "held": 0, "committed": 3, "released": 0
        }  # fmt: skip


def test_a_finished_redemption_is_known_by_its_journal_row_among_later_ones(ledger: Ledger) -> None:
    committed = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    released = ledger.hold(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
    ledger.commit(committed, at=LATER)
    ledger.release(released, at=LATER, why="timeout")
    for _ in range(50):  # later events: the search goes back past them
        ledger.refuse(deny("t-2999", Reason.CANCELLED), lane=NORTH, reference="T2999", at=LATER)
        ledger.redeem(admit("t-3003", use("t-3003")), lane=NORTH, reference="T3003", at=LATER)
    ledger.record_event("staff.note", at=LATER, lane="north-1", redemption_id=committed, body={})
    before = (count(ledger, "SELECT count(*) FROM journal"), ledger.inside())
    with pytest.raises(LedgerError, match=f"redemption '{committed}' is already committed"):
        ledger.commit(committed, at=LATER)
    with pytest.raises(LedgerError, match=f"redemption '{released}' is already released"):
        ledger.commit(released, at=LATER)
    with pytest.raises(LedgerError, match=f"redemption '{released}' is already released"):
        ledger.release(released, at=LATER, why="again")
    never = new_id()  # well formed, never issued
    with pytest.raises(LedgerError, match=f"no redemption '{never}'"):
        ledger.release(never, at=LATER, why="?")
    assert (count(ledger, "SELECT count(*) FROM journal"), ledger.inside()) == before


def test_ids_sort_by_creation_and_never_repeat() -> None:
    ids = [new_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_publishing_out_of_order_moves_the_high_water_mark_only_over_published_rows(ledger: Ledger) -> None:
    for _ in range(5):
        ledger.record_event("staff.note", at=NOON)
    seqs = [e.seq for e in ledger.journal()]

    def unpublished(after: int = 0) -> list[int]:
        return [e.seq for e in ledger.journal(after=after, unpublished=True)]

    assert unpublished() == seqs
    ledger.outbox().mark_published([seqs[1], seqs[3]], at=LATER)
    assert unpublished() == [seqs[0], seqs[2], seqs[4]]
    assert unpublished(after=seqs[0]) == [seqs[2], seqs[4]]
    ledger.outbox().mark_published([seqs[0]], at=LATER)
    assert ledger._conn.execute("SELECT value FROM meta WHERE key = 'published_through'").fetchone() == (str(seqs[1]),)
    ledger.outbox().mark_published([seqs[2], seqs[4]], at=LATER)
    assert unpublished() == [] and ledger.stats()["journal_unpublished"] == 0
    ledger.outbox().mark_published([seqs[2]], at=LATER + dt.timedelta(hours=1))  # again: nothing changes
    assert [e.published_at for e in ledger.journal()] == [LATER] * 5
    ledger.record_event("staff.note", at=NOON)
    assert unpublished() == [seqs[4] + 1]


def test_the_occupancy_counter_is_carried_by_every_journal_row(ledger: Ledger) -> None:
    assert ledger.inside() == 0
    ledger.redeem(admit("t-3001", use("t-3001", persons=3)), lane=NORTH, reference="T3001", at=NOON)
    ledger.refuse(deny("t-2999", Reason.CANCELLED), lane=NORTH, reference="T2999", at=NOON)
    ledger.record_event("staff.open_once", at=NOON, lane="north-1")
    rid = ledger.hold(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
    ledger.release(rid, at=LATER, why="timeout")
    assert ledger.inside() == 3 and ledger.stats()["inside"] == 3
    assert [row[0] for row in ledger._conn.execute("SELECT inside FROM journal ORDER BY seq")] == [3, 3, 3, 3, 3]


def test_checkpoints_run_when_enough_was_written_or_when_forced(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as ledger:
        ledger.import_file(EXAMPLE)
        assert ledger.checkpoint()  # an import leaves many pages: the next idle call copies them
        assert not ledger.checkpoint()
        for _ in range(CHECKPOINT_AFTER_COMMITS - 1):
            ledger.refuse(deny(None, Reason.UNKNOWN_CODE), lane=NORTH, reference="NOPE", at=NOON)
        assert not ledger.checkpoint()
        ledger.refuse(deny(None, Reason.UNKNOWN_CODE), lane=NORTH, reference="NOPE", at=NOON)
        assert ledger.checkpoint()
        assert ledger.checkpoint(force=True)
        conn = ledger._conn
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] > 1000  # a backstop only
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -16 * 1024


def test_closing_leaves_the_wal_checkpointed_while_another_process_has_it_open(ledger_path: Path) -> None:
    Ledger.open(ledger_path).close()
    other = sqlite3.connect(ledger_path)  # the daemon, say: the WAL outlives the command's connection
    other.execute("SELECT count(*) FROM journal").fetchone()
    with Ledger.open(ledger_path) as command:
        command.record_event("staff.note", at=NOON)
    # The database file alone, without its WAL, already has the row.
    copy = ledger_path.with_name("copy.sqlite")
    copy.write_bytes(ledger_path.read_bytes())
    alone = sqlite3.connect(copy)
    assert alone.execute("SELECT count(*) FROM journal").fetchone() == (1,)
    alone.close()
    other.close()


def test_stored_bodies_parse_to_the_same_entitlement_with_or_without_default_objects() -> None:
    lines = [line for line in EXAMPLE.read_text().splitlines() if '"entitlement"' in line and "deleted" not in line]
    voucher = {"type": "entitlement", "kind": "voucher", "id": "v-1", "version": 1, "events": ["hamlet"],
               "expires_on": "2026-01-01", "window": {"opens_days_before": 30},
               "access": {"zones": ["main-hall"]}}  # fmt: skip
    for line in [*lines, json.dumps(voucher)]:
        kind = json.loads(line)["kind"]
        body = body_of(_RECORD.validate_json(line))
        plain = ENTITLEMENT_CLASSES[kind].model_validate_json(body)
        parsed = parse_entitlement(kind, body)
        assert parsed == plain and body_of(parsed) == body


def test_bulk_loads_of_the_same_uses_twice_keep_both(ledger: Ledger) -> None:
    rows = [use("t-3001", at=NOON)._replace(held=False)] * 3
    assert ledger.bulk_insert_uses(rows) == 3
    assert ledger.bulk_insert_uses(rows) == 3
    assert len(ledger.uses(["t-3001"])) == 6


def test_an_idle_checkpoint_never_waits_for_another_writer(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as ledger:
        ledger.import_file(EXAMPLE)
        other = sqlite3.connect(ledger_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # an import in another process, say
        started = time.monotonic()
        assert ledger.checkpoint()
        assert time.monotonic() - started < 5  # the ledger's busy timeout is 30 s
        other.execute("ROLLBACK")
        other.close()
        assert ledger._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        ledger.record_event("staff.note", at=NOON)  # and writing still works
