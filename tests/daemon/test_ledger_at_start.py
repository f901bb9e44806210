"""`gate run` checks its ledger at start: a file that cannot serve is one line and exit 3 (the unit
does not restart it); corrupt pages are found before READY after an unclean stop, else after
READY, which takes the lane out of order."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gate.cache import Ledger
from gate.cli import main
from tests.daemon.conftest import DaemonProcess, Start, Venue, wait_ready

UNUSABLE = 3


def _exits(daemon: DaemonProcess) -> tuple[int, str]:
    code = daemon.process.wait(20)
    return code, daemon.log


@pytest.mark.parametrize("kind", ["directory", "text file", "another program's database"])
def test_a_file_that_is_no_gate_ledger_is_one_line_and_no_restart(
    venue: Venue, start_daemon: Start, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "other.sqlite"
    if kind == "directory":
        path.mkdir()
    elif kind == "text file":
        path.write_text("just some notes\n" * 400)
    else:
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    venue.write_config(ledger={"path": str(path)})
    code, log = _exits(start_daemon())
    assert code == UNUSABLE, log
    [line] = [line for line in log.splitlines() if "CRITICAL" in line]
    assert "cannot use the ledger" in line and str(path) in line
    assert "Traceback" not in log


def _damage(ledger: Path) -> None:
    """Overwrite one page of the references' index, which the start does not read."""
    with sqlite3.connect(ledger) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_schema WHERE tbl_name = 'reference' ORDER BY rootpage LIMIT 1"
        ).fetchone()
    with ledger.open("r+b") as out:
        out.seek((root - 1) * page_size)
        out.write(b"\xa5" * page_size)


def _big_ledger(venue: Venue) -> None:
    lines = venue.dir / "more.jsonl"
    records = [{"type": "entitlement", "kind": "ticket", "id": f"t-{i}", "version": 1, "day": "2026-06-01",
                "references": [f"REF-{i:05d}"]} for i in range(3000)]  # fmt: skip
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0


def test_corrupt_pages_after_a_clean_stop_take_the_lane_out_of_order_after_ready(
    venue: Venue, start_daemon: Start
) -> None:
    _big_ledger(venue)
    daemon = start_daemon()
    wait_ready(daemon)
    assert daemon.stop() == 0  # a clean stop: the next start checks the pages after READY
    _damage(venue.ledger)
    daemon = start_daemon()
    wait_ready(daemon)
    lane = daemon.wait_until(lambda s: s["lane"]["mode"] == "out_of_order")["lane"]
    assert lane["mode_cause"] == "storage" and "damaged" in lane["storage_fault"]
    venue.scan("ONE")
    daemon.wait_until(lambda s: len(s["lane"]["last_decisions"]) == 1)
    assert daemon.status()["lane"]["last_decisions"][0]["reason"] == "lane_closed"
    assert daemon.stop() == 0


def test_corrupt_pages_after_an_unclean_stop_are_found_before_ready(venue: Venue, start_daemon: Start) -> None:
    _big_ledger(venue)
    with Ledger.open(venue.ledger) as ledger:
        ledger.touch(durable=True, settings={"daemon.l1.run": "running"})  # as a killed daemon leaves it
    _damage(venue.ledger)
    code, log = _exits(start_daemon())
    assert code == UNUSABLE, log
    assert "is damaged" in log and "Traceback" not in log
    assert "ready:" not in log
