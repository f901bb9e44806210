"""`gate ledger rebuild`, with real parts: a device's ledger is lost; one command makes it again from
the hub (a snapshot, as a rebuild: the device's own earlier events count), with a new incarnation,
and what the device does afterwards reaches the hub under it."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.reasons import Reason
from tests.sync.conftest import ROOT, Site, until
from tests.sync.hubs import engine, hub_has, hub_key, publish, reason, ticket, use


def test_a_lost_ledger_is_rebuilt_from_the_hub_with_a_new_incarnation_and_its_new_events_reach_the_hub(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    public = hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    publish(site, hub_config, "monday.jsonl", ticket("T1"), ticket("T2"), ticket("T3"))
    site.run("hub", hub_config)
    config = site.config("d1", device="d1", ledger_keys={"hub": public})
    path = site.dir / "d1.sqlite"
    ledger = Ledger.open(path)
    sync = site.run("sync", config)
    until(lambda: ledger.setting("sync.batch_seq") == "1", what="d1 at batch 1")
    before = ledger.outbox().incarnation()
    use(engine(config, ledger), "T1")
    until(lambda: hub_has(site, "d1") == 1, what="T1's use at the hub")
    assert sync.stop() == 0
    ledger.close()

    # A ledger that checks out is not rebuilt (its unconfirmed events would stay behind).
    capsys.readouterr()
    assert main(["ledger", "rebuild", "--config", str(config)]) == 2
    assert "opens and checks out" in capsys.readouterr().out and path.exists()

    # The device's disk is replaced: its ledger is gone. One command, as a process of its own.
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "gate", "ledger", "rebuild", "--config", str(config), "--timeout",
                           "60"], cwd=ROOT, capture_output=True, text=True, timeout=90, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rebuilt" in done.stdout and "batch 1, 3 entitlement(s)" in done.stdout
    assert not path.with_name(path.name + ".rebuilding").exists()

    ledger = Ledger.open(path)
    after = ledger.outbox().incarnation()
    assert after != before and after in done.stdout  # a new incarnation: its events never reuse a key
    lane = engine(config, ledger)
    assert reason(lane, "T1") is Reason.ALREADY_USED  # used before the loss: the hub's events say so
    assert reason(lane, "T2") is Reason.OK

    # Back in service: what it does reaches the hub, under the new incarnation, counted once.
    sync = site.run("sync", config)
    use(lane, "T2")
    until(lambda: hub_has(site, "d1") == 2, what="T2's use at the hub")
    until(lambda: ledger.setting("sync.outbox") == "0", what="its rows confirmed")
    with contextlib.closing(sqlite3.connect(site.dir / "hub-hub.sqlite")) as store:
        used = store.execute("SELECT incarnation, entitlement_id FROM event WHERE device = 'd1' AND "
                             "type = 'redemption.committed' ORDER BY seq").fetchall()  # fmt: skip
    assert sorted(used) == sorted([(before, "t-t1"), (after, "t-t2")])
    assert sync.stop() == 0
    ledger.close()
