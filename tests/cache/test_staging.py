"""A snapshot's switch on a real ledger file (gate/cache/staging.py): the hub's records take the
live ones' place in one transaction while another connection (a lane) stays open on the file, and
what the gate did itself stays: its journal and outbox state, a hold in progress, its uses and
its peers', a lane's mode, and the voucher admissions made here. A second snapshot switches the
same way (the entitlement's indexes alternate names) and leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gate.cache import Ledger
from gate.cache.staging import TABLES, Progress, Staging
from gate.config import load_config
from gate.engine import Engine
from gate.point.modes import meta_key
from gate.reasons import Reason
from tests.configs import write_config

TODAY = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
HEADER = {"type": "header", "format": "gate-ledger", "version": 1}
_ROWS = {
    "record": "SELECT type, id, version, body FROM record",
    "tombstone": "SELECT type, id, version FROM tombstone",
    "entitlement": "SELECT id, version, kind, holder, mode, state, purchased_at, predecessor, body FROM entitlement",
    "reference": "SELECT code, entitlement_id FROM reference",
}


def _ticket(code: str, version: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "entitlement", "kind": "ticket", "id": f"t-{code.lower()}", "version": version, "day": TODAY,
            "references": [code], **extra}  # fmt: skip


def _hub_copy(path: Path, *records: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The hub's copy of the ledger holding `records`: its tables' rows, as a snapshot carries them."""
    with Ledger.open(path) as copy:
        copy.import_lines([json.dumps(r) for r in (HEADER, *records)], source="hub")
    with sqlite3.connect(path) as db:
        return {table: db.execute(query).fetchall() for table, query in _ROWS.items()}


def _switch(ledger: Ledger, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    """A whole load on the sync process's connection: leftovers emptied, staged in small writes, switched."""
    stage = Staging(ledger._conn, ledger._tx)
    for table in stage.leftovers():
        while stage.empty_step(table):
            pass
    stage.begin("{}", events=0)
    for table in TABLES:
        for start in range(0, len(rows[table]), 2):
            stage.load(table, rows[table][start : start + 2], Progress("{}", 0, start + 2))
    assert stage.check({table: len(found) for table, found in rows.items()}) is None
    stage.switch({"sync.batch_seq": "7"})
    for table in stage.leftovers():
        while stage.empty_step(table):
            pass


def test_the_switch_keeps_what_the_gate_did_and_its_admissions_and_switches_again(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "gate.toml"))
    ledger = Ledger.open(tmp_path / "ledger.sqlite")
    ledger.import_lines([json.dumps(r) for r in (HEADER, _ticket("OLD"), _ticket("USED"), _ticket("HELD"))],
                        source="before")  # fmt: skip
    lane = Engine(ledger, config)
    now = dt.datetime.now(dt.UTC)
    used = lane.admit("USED", lane="l1", at=now)
    assert used.redemption is not None
    lane.commit(used.redemption, at=now)
    held = lane.admit("HELD", lane="l1", at=now)  # a visitor in the turnstile during the switch
    assert held.redemption is not None
    ledger.record_event("staff.mode", at=now, lane="l1", settings={meta_key("l1"): '{"mode": "free"}'})
    outbox = ledger.outbox()
    incarnation, journal = outbox.incarnation(), len(ledger.journal())
    # A peer's kiosk redeemed a voucher: its admission is a record made here, not in the hub's log.
    admission = {k: v for k, v in _ticket("ADM", from_voucher="v-1").items() if k != "type"}
    outbox.receive("kiosk", [_Row("redemption.committed", "r-k1", {"uses": [], "admission_record": admission,
                                                                    "entitlement_id": "v-1"})], hold_s=60)  # fmt: skip
    assert ledger.find("ADM")

    # The hub's ledger: OLD deleted, USED and HELD as before, NEW added.
    rows = _hub_copy(tmp_path / "hub-ledger.sqlite", {"type": "entitlement", "id": "t-old", "version": 2,
                                                       "deleted": True}, _ticket("USED"), _ticket("HELD"),
                     _ticket("NEW"))  # fmt: skip
    other = Ledger.open(tmp_path / "ledger.sqlite")  # a lane's connection, open across the switch
    assert other.find("OLD") and not other.find("NEW")
    sync = Ledger.open(tmp_path / "ledger.sqlite")
    _switch(sync, rows)

    assert other.find("NEW") and not other.find("OLD") and other.find("ADM")  # the admission carried over
    assert [hold.id for hold in other.open_holds()] == [held.redemption]
    other_lane = Engine(other, config)
    assert other_lane.decide("USED", lane="l1", at=now).decision.reason is Reason.ALREADY_USED
    assert other.setting(meta_key("l1")) == '{"mode": "free"}' and other.setting("sync.batch_seq") == "7"
    assert other.outbox().incarnation() == incarnation and len(other.journal()) == journal
    lane.commit(held.redemption, at=now)  # the passage finishes after the switch, as it began before it
    assert other_lane.decide("HELD", lane="l1", at=now).decision.reason is Reason.ALREADY_USED

    # A second snapshot switches as well, on the alternate index names, and leaves nothing behind.
    indexes = _indexes(sync)
    _switch(sync, _hub_copy(tmp_path / "hub-ledger-2.sqlite", _ticket("LATER")))
    assert other.find("LATER") and not other.find("NEW") and other.find("ADM")
    assert _indexes(sync) != indexes and len(_indexes(sync)) == len(indexes)
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        names = {name for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        assert not any(name.startswith(("snapshot_", "replaced_")) for name in names)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    for each in (other, sync, ledger):
        each.close()


class _Row:
    """A peer's journal row as sync receives it."""

    def __init__(self, type_: str, redemption_id: str, body: dict[str, Any]) -> None:
        self.type, self.redemption_id, self.body = type_, redemption_id, body


def _indexes(ledger: Ledger) -> set[str]:
    query = "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'entitlement' AND sql IS NOT NULL"
    return {name for (name,) in ledger._conn.execute(query)}
