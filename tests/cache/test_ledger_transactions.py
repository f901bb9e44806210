"""The ledger's transactions: a failed write changes nothing, the tail learns only what
committed, and a durable write is synced to disk before it returns (and only a durable one)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.cache import Ledger, LedgerError
from gate.reasons import Reason

from .helpers import NOON, NORTH, admit, deny, use


class Syncs:
    """The real `os.fdatasync`, recording each synced file by inode, and what another
    connection could read of the journal at that moment (what had committed)."""

    def __init__(self, ledger_path: Path) -> None:
        self.ledger_path = ledger_path
        self.calls: list[tuple[int, int]] = []  # (inode, journal rows committed)
        self.fail = False
        self._real = os.fdatasync

    def __call__(self, fd: int) -> None:
        with sqlite3.connect(self.ledger_path) as other:
            committed = other.execute("SELECT count(*) FROM journal").fetchone()[0]
        other.close()
        self.calls.append((os.fstat(fd).st_ino, committed))
        if self.fail:
            raise OSError(5, "Input/output error")
        self._real(fd)

    def of_wal(self) -> list[int]:
        """The journal rows committed at each sync of the ledger's WAL file."""
        wal = Path(f"{self.ledger_path}-wal").stat().st_ino
        return [committed for inode, committed in self.calls if inode == wal]


@pytest.fixture
def syncs(ledger: Ledger, ledger_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Syncs]:
    recorder = Syncs(ledger_path)
    monkeypatch.setattr(os, "fdatasync", recorder)
    yield recorder


def journal_rows(ledger: Ledger) -> int:
    return len(ledger.journal())


def test_a_durable_write_syncs_the_wal_once_it_has_committed(ledger: Ledger, syncs: Syncs) -> None:
    ledger.redeem(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    assert syncs.of_wal() == [journal_rows(ledger)]  # synced once, after the row was committed
    rid = ledger.hold(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
    ledger.refuse(deny("t-2999", Reason.CANCELLED), lane=NORTH, reference="T2999", at=NOON)
    assert syncs.of_wal() == [1]  # a hold and a refusal wait for no sync
    ledger.commit(rid, at=NOON)
    assert syncs.of_wal() == [1, 4]  # the commit carries the hold and the refusal with it
    assert ledger._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: the syncs are ours


def test_a_durable_recording_that_only_read_waits_for_no_sync(ledger: Ledger, syncs: Syncs) -> None:
    """`gate check --commit` on a refused code: the decision's transaction read, and its
    refusal is journaled after it without a sync; the next admit's commit syncs as ever."""
    ledger.redeem(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    with ledger.recording():
        assert [u.persons for u in ledger.uses(["t-3001"])] == [1]
    ledger.refuse(deny("t-3001", Reason.ALREADY_USED), lane=NORTH, reference="T3001", at=NOON)
    assert syncs.of_wal() == [1]
    with ledger.recording():
        ledger.redeem(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
    assert syncs.of_wal() == [1, 3]


def test_a_failed_sync_is_an_error_and_the_commit_still_counts(ledger: Ledger, syncs: Syncs) -> None:
    """The row committed (other connections see it) but may not be on disk: the caller hears
    so, and this ledger counts it as the others do."""
    rid = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    syncs.fail = True
    with pytest.raises(LedgerError, match=r"commit may not be on disk: cannot sync .*ledger\.sqlite-wal"):
        ledger.commit(rid, at=NOON)
    assert ledger.open_holds() == []
    assert [(u.persons, u.held) for u in ledger.uses(["t-3001"])] == [(1, False)]
    syncs.fail = False
    ledger.redeem(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
    assert syncs.of_wal()[-1] == journal_rows(ledger) == 3


def test_an_import_is_synced_before_it_returns(ledger_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Syncs(ledger_path)
    with Ledger.open(ledger_path) as ledger:
        monkeypatch.setattr(os, "fdatasync", recorder)
        lines = ['{"type": "header", "format": "gate-ledger", "version": 1}',
                 '{"type": "product", "id": "entry", "version": 1, "name": "Entry"}']  # fmt: skip
        ledger.import_lines(lines, source="t")
        assert len(recorder.of_wal()) == 1


def test_a_recording_that_fails_half_way_leaves_nothing_behind(ledger: Ledger) -> None:
    journal = len(ledger.journal())
    with pytest.raises(RuntimeError, match="reader unplugged"), ledger.recording(durable=False):
        ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
        ledger.refuse(deny("t-2999", Reason.CANCELLED), lane=NORTH, reference="T2999", at=NOON)
        raise RuntimeError("reader unplugged")
    assert len(ledger.journal()) == journal
    assert ledger.open_holds() == [] and ledger.uses(["t-3001"]) == ()
    rid = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    ledger.commit(rid, at=NOON)
    assert [(u.persons, u.held) for u in ledger.uses(["t-3001"])] == [(1, False)]


def test_writes_inside_a_recording_join_it_and_the_tail_learns_them_once_committed(ledger: Ledger) -> None:
    with ledger.recording(durable=False):
        first = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
        second = ledger.hold(admit("t-3002", use("t-3002")), lane=NORTH, reference="T3002", at=NOON)
        assert ledger.open_holds() == []  # not committed yet: nothing learnt
    assert [h.id for h in ledger.open_holds()] == [first, second]


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
    rid = ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    assert [h.id for h in ledger.open_holds()] == [rid]
