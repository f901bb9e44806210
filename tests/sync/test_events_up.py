"""Redemptions up, with real parts: Debian's Mosquitto, a `gate sync` and a `gate hub` process, and the
device's ledger written as its lanes write it. Every journal row reaches the hub once, and
leaves the outbox only once the hub confirms it, through a broker killed with -9, a sync
process killed with -9, and a hub that is away."""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from gate.cache import Ledger
from gate.cli import main
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until

AT = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def _write(ledger: Ledger, count: int, *, lane: str = "l1") -> list[str]:
    """Journal rows as a lane writes them (a lookup each: any row goes up)."""
    return [ledger.record_event("lookup", at=AT, lane=lane, body={"n": n}, reason="ok") for n in range(count)]


def _hub_rows(store: Path, device: str) -> list[tuple[int, str]]:
    if not store.exists():
        return []
    with sqlite3.connect(store) as db:
        try:
            return list(db.execute("SELECT seq, id FROM event WHERE device = ? ORDER BY seq", (device,)))
        except sqlite3.OperationalError:  # the hub has not made its tables yet
            return []


def _journal(ledger: Ledger) -> list[tuple[int, str]]:
    return [(e.seq, e.id) for e in ledger.journal(limit=100_000)]


def test_every_row_reaches_the_hub_once_and_leaves_the_outbox_only_when_confirmed(site: Site) -> None:
    config, ledger = site.device("d1")
    _write(ledger, 25)
    outbox = ledger.outbox()
    assert outbox.depth() == 25
    store = site.dir / "hub-hub.sqlite"
    hub = site.run("hub", site.config("hub"))
    sync = site.run("sync", config)
    until(lambda: len(_hub_rows(store, "d1")) == 25, what="the hub has the 25 rows")
    until(lambda: outbox.depth() == 0, what="the hub's mark confirmed them")
    # More rows while both run: noticed within the poll, sent, confirmed.
    _write(ledger, 10, lane="l2")
    until(lambda: outbox.depth() == 0 and len(_hub_rows(store, "d1")) == 35, what="the 10 more")
    assert _hub_rows(store, "d1") == _journal(ledger)  # each row once, in its order, by its id
    assert outbox.floor() == 35
    # The link's state for the daemons: up, nothing waiting.
    until(lambda: ledger.setting("sync.link") == "up" and ledger.setting("sync.outbox") == "0", what="link state")
    assert sync.stop() == 0 and hub.stop() == 0
    assert "Traceback" not in sync.log() + hub.log()
    assert ledger.setting("sync.link") == "down"  # said on the way out
    ledger.close()


def test_a_broker_killed_mid_traffic_loses_nothing_and_counts_nothing_twice(site: Site, broker: Broker) -> None:
    config, ledger = site.device("d1")
    store = site.dir / "hub-hub.sqlite"
    site.run("hub", site.config("hub"))
    site.run("sync", config)
    writer_ledger = Ledger.open(site.dir / "d1.sqlite")  # the lanes' own connection, in a thread
    stop = threading.Event()

    def lanes() -> None:
        while not stop.is_set():
            _write(writer_ledger, 5)
            stop.wait(0.02)

    thread = threading.Thread(target=lanes, name="lanes")
    thread.start()
    try:
        until(lambda: len(_hub_rows(store, "d1")) >= 50, what="traffic flowing")
        broker.kill()  # mid-traffic: what it acknowledged and did not save is gone
        stop.wait(0.5)
        broker.start()
        target = len(_journal(ledger)) + 50  # what was written while it was down, and more after
        until(lambda: len(_hub_rows(store, "d1")) >= target, timeout=30, what="traffic again")
    finally:
        stop.set()
        thread.join()
    writer_ledger.close()
    outbox = ledger.outbox()
    until(lambda: outbox.depth() == 0, timeout=30, what="every row confirmed")
    journal = _journal(ledger)
    assert _hub_rows(store, "d1") == journal and len(journal) > 100
    ledger.close()


def test_rows_a_killed_sync_process_never_got_confirmed_arrive_after_its_restart(site: Site) -> None:
    config, ledger = site.device("d1")
    store = site.dir / "hub-hub.sqlite"
    sync = site.run("sync", config)  # no hub yet: sent, never confirmed
    _write(ledger, 20)
    until(lambda: "connected to" in sync.log(), what="sync connected")
    assert sync.stop(signal.SIGKILL) == -signal.SIGKILL  # killed with its rows unconfirmed
    outbox = ledger.outbox()
    assert outbox.depth() == 20  # nothing confirmed: nothing let go
    _write(ledger, 5)
    site.run("hub", site.config("hub"))
    site.run("sync", config)
    until(lambda: outbox.depth() == 0, what="confirmed after the restart")
    assert _hub_rows(store, "d1") == _journal(ledger) and len(_journal(ledger)) == 25
    ledger.close()


def test_the_hub_drops_what_is_not_a_device_s_events_and_goes_on(site: Site, broker: Broker) -> None:
    config, ledger = site.device("d1")
    store = site.dir / "hub-hub.sqlite"
    hub = site.run("hub", site.config("hub"))
    until(lambda: "connected to" in hub.log(), what="hub connected")
    good = {"seq": 1, "id": "x1", "at": AT.timestamp(), "type": "lookup", "body": {}}

    def batch(device: str, *, v: int = 1, seq: int = 1) -> bytes:
        events = [{**good, "seq": seq}]
        return json.dumps({"v": v, "device": device, "incarnation": "0" * 16, "floor": 0, "events": events}).encode()

    bad = {
        "not JSON": b"{nope",
        "a version it does not read": batch("d2", v=9),
        "another device's name": batch("d1"),
        "a seq of 0": batch("d2", seq=0),
    }
    for payload in bad.values():  # all on d2's topic, as a rogue client would
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "gate/v1/s1/devices/d2/events", "-q", "1",
                        "-s"], input=payload, check=True, timeout=10)  # fmt: skip
    until(lambda: hub.log().count("dropped") >= len(bad), what="each bad message dropped")
    log = hub.log()
    assert "events.0.seq" in log and "'d1', its topic 'd2'" in log
    # The hub goes on: the real device's rows arrive.
    _write(ledger, 3)
    site.run("sync", config)
    until(lambda: len(_hub_rows(store, "d1")) == 3, what="the device's rows")
    assert _hub_rows(store, "d2") == [] and hub.process.poll() is None
    ledger.close()


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_a_password_file_others_may_read_is_refused_in_one_line(site: Site, mode: int) -> None:
    secret = site.dir / "password"
    secret.write_text("s3cret\n")
    secret.chmod(mode)
    config = site.config("d1", device="d1", username="d1", password_file="password")
    Ledger.open(site.dir / "d1.sqlite").close()
    sync = site.run("sync", config)
    assert sync.process.wait(timeout=20) == 2
    log = sync.log()
    assert f"readable by others (mode {mode:o}): chmod 600 it" in log and "s3cret" not in log


def _hub_count(store: Path, device: str) -> int:
    with sqlite3.connect(store) as db:
        return int(db.execute("SELECT count(*) FROM event WHERE device = ? AND repeat = 0", (device,)).fetchone()[0])


def test_a_restored_backup_gets_a_new_incarnation_and_its_new_events_reach_the_hub(site: Site) -> None:
    config, ledger = site.device("d1")
    _write(ledger, 5)
    backup = site.dir / "d1-backup.sqlite"
    ledger.backup(backup)  # rows 1-5, none confirmed yet
    old_incarnation = ledger.outbox().incarnation()
    store = site.dir / "hub-hub.sqlite"
    site.run("hub", site.config("hub"))
    sync = site.run("sync", config)
    _write(ledger, 5)
    until(lambda: ledger.outbox().depth() == 0 and _hub_count(store, "d1") == 10, what="all 10 confirmed")
    assert sync.stop() == 0
    ledger.close()

    # A lane daemon answering on the control socket: no restore under it.
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(str(site.dir / "control.sock"))
    control.listen()
    try:
        assert main(["--config", str(config), "ledger", "restore", str(backup)]) == 2
    finally:
        control.close()
        (site.dir / "control.sock").unlink()
    assert main(["--config", str(config), "ledger", "restore", str(backup)]) == 0

    restored = Ledger.open(site.dir / "d1.sqlite", create=False)
    assert len(restored.journal()) == 5 and restored.outbox().incarnation() != old_incarnation
    new_ids = _write(restored, 2)  # seqs 6 and 7 again, under the new incarnation
    site.run("sync", config)
    until(lambda: restored.outbox().depth() == 0, what="the restored ledger's rows confirmed")
    # Every event after the restore is at the hub; the five it sent again are not counted twice.
    assert _hub_count(store, "d1") == 12
    with sqlite3.connect(store) as db:
        found = {row[0] for row in db.execute("SELECT id FROM event WHERE device = 'd1' AND repeat = 0")}
    assert set(new_ids) <= found
    restored.close()


def test_a_local_import_on_a_synced_device_needs_local_and_the_hub_learns_of_it(site: Site) -> None:
    config, ledger = site.device("d1")
    lines = site.dir / "local.jsonl"
    lines.write_text('{"type":"header","format":"gate-ledger","version":1}\n'
                     '{"type":"holder","id":"h-9","version":1,"display_name":"Ann S."}\n')  # fmt: skip
    assert main(["--config", str(config), "ledger", "import", str(lines)]) == 2  # the hub's log is the source
    assert ledger.holder("h-9") is None
    assert main(["--config", str(config), "ledger", "import", "--local", str(lines)]) == 0
    assert ledger.holder("h-9") is not None
    (row,) = [e for e in ledger.journal() if e.type == "ledger.local_import"]
    assert (row.body["file"], row.body["applied"]) == ("local.jsonl", {"holder": 1}) and len(row.body["sha256"]) == 64
    store = site.dir / "hub-hub.sqlite"
    site.run("hub", site.config("hub"))
    site.run("sync", config)
    until(lambda: ledger.outbox().depth() == 0, what="the import reported")
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM event WHERE type = 'ledger.local_import'").fetchone()[0] == 1
    ledger.close()


def test_confirmed_rows_older_than_the_retention_are_pruned_never_the_rest(site: Site) -> None:
    config, ledger = site.device("d1")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    old_ids = [ledger.record_event("lookup", at=old, lane="l1", body={"n": n}) for n in range(5)]
    new_ids = _write(ledger, 2)  # AT: 2026-12-04, inside the retention
    ledger.checkpoint(force=True)  # folded, as an idle lane does
    site.run("hub", site.config("hub"))
    first = site.run("sync", config)
    until(lambda: ledger.outbox().depth() == 0, what="everything confirmed")
    assert first.stop() == 0
    assert len(ledger.journal()) == 7  # confirmed, but not yet looked at by the retention
    again = site.run("sync", config)  # the retention runs at its start, then hourly
    until(lambda: "5 journal row(s) older than 30 days pruned" in again.log(), what="the old rows pruned")
    assert [e.id for e in ledger.journal()] == new_ids and not set(old_ids) & {e.id for e in ledger.journal()}
    ledger.close()


def test_an_outbox_past_its_alarm_says_so_once_and_the_rows_wait(site: Site) -> None:
    config = site.config("d1", device="d1", outbox_alarm=100)
    ledger = Ledger.open(site.dir / "d1.sqlite")
    _write(ledger, 101)
    sync = site.run("sync", config)  # no hub: nothing is confirmed
    until(lambda: ledger.setting("sync.outbox_alarm") == "yes", what="the alarm in the sync state")
    until(lambda: "ALARM: 101 journal rows wait for the hub (more than 100)" in sync.log(), what="the alarm logged")
    time.sleep(4.5)  # two more turns of the state's 2 s: still said once
    assert sync.log().count("ALARM") == 1 and ledger.outbox().depth() == 101  # nothing lost either
    ledger.close()
