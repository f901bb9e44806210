"""The ledger's transactions: a failed write changes nothing, the tail learns only what
committed, and a write that waits for no fsync leaves the next one durable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gate.cache import Ledger, LedgerError
from gate.reasons import Reason

from .helpers import NOON, NORTH, admit, deny, use

FULL = 2  # PRAGMA synchronous's value for FULL


def synchronous(ledger: Ledger) -> int:
    return int(ledger._conn.execute("PRAGMA synchronous").fetchone()[0])


def test_a_recording_that_fails_half_way_leaves_nothing_behind(ledger: Ledger) -> None:
    journal = len(ledger.journal())
    with pytest.raises(RuntimeError, match="reader unplugged"), ledger.recording(durable=False):
        ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
        ledger.refuse(deny("t-2999", Reason.CANCELLED), lane=NORTH, reference="T2999", at=NOON)
        raise RuntimeError("reader unplugged")
    assert len(ledger.journal()) == journal
    assert ledger.open_holds() == [] and ledger.uses(["t-3001"]) == ()
    assert synchronous(ledger) == FULL  # the next commit waits for its fsync again
    rid = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    ledger.commit(rid, at=NOON)
    assert [(u.persons, u.held) for u in ledger.uses(["t-3001"])] == [(1, False)]


def test_writes_inside_a_recording_join_it_and_the_tail_learns_them_once_committed(ledger: Ledger) -> None:
    with ledger.recording(durable=False):
        first = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
        second = ledger.hold(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
        assert ledger.open_holds() == []  # not committed yet: nothing learnt
    assert [h.id for h in ledger.open_holds()] == [first, second]
    assert synchronous(ledger) == FULL


def test_a_write_inside_a_read_snapshot_is_refused(ledger: Ledger) -> None:
    with ledger.snapshot(), pytest.raises(LedgerError, match="inside a read snapshot"):
        ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    assert ledger.open_holds() == []
    ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)  # and then it works


def test_a_busy_ledger_is_an_error_and_the_next_write_works(ledger: Ledger, ledger_path: Path) -> None:
    other = sqlite3.connect(ledger_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process importing, say
    ledger._conn.execute("PRAGMA busy_timeout = 50")
    try:
        with pytest.raises(LedgerError, match="ledger is busy"):
            ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert synchronous(ledger) == FULL
    rid = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    assert [h.id for h in ledger.open_holds()] == [rid]
