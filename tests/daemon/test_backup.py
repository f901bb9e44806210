"""`gate ledger backup FILE` beside a running lane: a consistent copy that misses nothing committed,
readable by its owner only, never over an existing file, never half written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gate.cache import Ledger
from gate.daemon.control import request
from tests.daemon.conftest import ROOT, Start, Venue, wait_ready


def _backup(venue: Venue, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gate", "--config", str(venue.config), "ledger", "backup", str(target)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_a_backup_while_the_lane_runs_holds_what_it_committed(
    venue: Venue, start_daemon: Start, tmp_path: Path
) -> None:
    daemon = start_daemon()
    wait_ready(daemon)
    venue.scan("ONE")
    daemon.wait_until(lambda s: s["lane"]["passage"] is not None)
    assert request(venue.socket, {"op": "sim_passage"})["ok"]
    daemon.wait_until(lambda s: [p["outcome"] for p in s["lane"]["last_passages"]] == ["committed"])

    target = tmp_path / "backups" / "ledger-1.sqlite"
    target.parent.mkdir()
    done = _backup(venue, target)
    assert done.returncode == 0 and f"to {target}" in done.stdout, done.stderr
    assert target.stat().st_mode & 0o777 == 0o600  # it holds holders' data
    # The lane goes on while and after the copy is made.
    venue.scan("ONE")
    daemon.wait_until(lambda s: s["lane"]["last_decisions"][-1]["reason"] == "already_used")
    assert daemon.stop() == 0
    with Ledger.open(target, create=False) as copy:
        assert [e.entitlement_id for e in copy.journal() if e.type == "redemption.committed"] == ["t-one"]

    again = _backup(venue, target)
    assert again.returncode != 0 and "exists; a backup never overwrites a file" in again.stderr
    missing = _backup(venue, tmp_path / "nowhere" / "ledger.sqlite")
    assert missing.returncode != 0 and "cannot back up" in missing.stderr
    assert not (tmp_path / "nowhere").exists()
