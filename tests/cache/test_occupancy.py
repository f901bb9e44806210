"""The site's occupancy counter across devices: visitors who enter at one device and leave at another
are counted once; an exit never takes the site below zero; a staff correction sets the site's count;
a peer's row received twice moves nothing twice; a device without peers counts as it always did."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.cache import Ledger

from .helpers import NOON, NORTH, admit, use


@dataclass(frozen=True)
class Row:
    """A peer's journal row as sync hands it over (gate.sync.payloads.Event's fields that matter)."""

    id: str
    type: str
    redemption_id: str | None
    body: dict[str, Any] = field(default_factory=dict)


def _pass(ledger: Ledger, persons: int, direction: str = "entry") -> int:
    """Persons through this device's lane (held, then committed): returns what the row says it moved."""
    plan = use("t-3001", persons=persons, direction=direction)
    rid = ledger.hold(admit("t-3001", plan), lane=NORTH, reference="T3001", at=NOON,
                      direction="exit" if direction == "exit" else "entry")  # fmt: skip
    ledger.commit(rid, at=NOON + dt.timedelta(seconds=2))
    committed = [e for e in ledger.journal() if e.type == "redemption.committed" and e.redemption_id == rid]
    return int(committed[0].body["moved"])


def _peer(ledger: Ledger, *rows: Row, device: str = "d2") -> None:
    ledger.outbox().receive(device, rows, hold_s=60)


def _committed(rid: str, passed: int, direction: str = "entry", **body: Any) -> Row:
    return Row(rid, "redemption.committed", rid, {"redemption": rid, "passed": passed, "direction": direction,
                                                  "uses": [], **body})  # fmt: skip


def test_visitors_who_enter_at_a_peer_and_leave_here_are_counted_once(ledger: Ledger) -> None:
    _peer(ledger, _committed("p-1", 5, moved=5))
    assert ledger.inside() == 5
    assert _pass(ledger, 3, "exit") == -3  # three of them leave through this device
    assert ledger.inside() == 2
    _pass(ledger, 1)
    assert ledger.inside() == 3
    # The peer's row again (a reconnect sends from its floor): nothing moves twice.
    _peer(ledger, _committed("p-1", 5, moved=5))
    assert ledger.inside() == 3


def test_an_exit_takes_out_at_most_who_is_inside_the_site(ledger: Ledger) -> None:
    _pass(ledger, 2)
    _peer(ledger, _committed("p-1", 1, "exit", moved=-1))
    assert ledger.inside() == 1
    assert _pass(ledger, 4, "exit") == -1  # only one was left inside
    assert ledger.inside() == 0
    _pass(ledger, 1)
    assert ledger.inside() == 1  # the exits read too many gave nobody a free place


def test_a_peer_that_does_not_say_what_it_moved_is_counted_by_who_passed(ledger: Ledger) -> None:
    _peer(ledger, _committed("p-1", 3), _committed("p-2", 2, kiosk=True), _committed("p-3", 1, "exit"))
    assert ledger.inside() == 2  # 3 in, a kiosk moves nobody, 1 out


def test_a_staff_correction_sets_the_site_count_and_a_peers_is_added_once(ledger: Ledger) -> None:
    _peer(ledger, _committed("p-1", 6, moved=6))
    _pass(ledger, 1)
    assert ledger.inside() == 7
    ledger.record_event("staff.occupancy", at=NOON, lane="north-1", body={"change": -5}, inside_change=-5)
    assert ledger.inside() == 2
    correction = Row("c-1", "staff.occupancy", None, {"count": 10, "previous": 2, "change": 8})
    _peer(ledger, correction)
    _peer(ledger, correction)
    assert ledger.inside() == 10


def test_without_peers_the_counter_is_this_devices_own_as_before(ledger: Ledger, ledger_path: Path) -> None:
    assert _pass(ledger, 2, "exit") == 0  # nobody inside: an exit moves nothing
    _pass(ledger, 2)
    assert _pass(ledger, 1, "exit") == -1
    assert ledger.inside() == 1
    with sqlite3.connect(ledger_path) as other:
        meta = other.execute("SELECT key FROM meta WHERE key LIKE 'occupancy.%'").fetchall()
    assert meta == []  # the hot path wrote nothing more than before
