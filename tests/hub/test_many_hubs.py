"""Two `gate hub` processes of one venue on one PostgreSQL, sharing the devices' messages through
the broker's shared subscriptions (`[hub] group`), one of them killed with -9 while two devices'
`gate sync` send events steadily: every event is stored exactly once, every outbox empties, the
other hub takes over publishing the log, and each hub's copy of the ledger follows the log
whichever machine published. Real Mosquitto with the passwords and ACL of docs/mqtt.md (a
`$share/...` subscription is checked against its plain topic), real PostgreSQL (tests/pg.py)."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from gate.cache import Ledger
from gate.config import ConfigError, load_config
from gate.hub.mirror import Mirror
from gate.hub.snapshots import build
from gate.hub.store import open_store
from gate.sync.conflicts import CONFLICTS
from gate.sync.payloads import Confirmed, dump
from tests.configs import config_text
from tests.sync.conftest import ROOT, Process, Site, until
from tests.sync.guarded import guarded_site
from tests.sync.hubs import engine, hub_key, publish, ticket, use

if TYPE_CHECKING:
    from collections.abc import Iterator

AT = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
STORED = re.compile(r"hub: (d\d)/[0-9a-f]{16}: ([1-9]\d*) new of")
HANDLED = re.compile(r"hub: d\d/[0-9a-f]{16}: (\d+) new of")
LEADS = "this hub publishes the log"
USERS = {"d1": "d1-secret", "d2": "d2-secret", "hub": "hub-secret"}


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Site]:
    """A venue whose broker checks passwords and the ACL of docs/mqtt.md."""
    with guarded_site(tmp_path, USERS) as site:
        yield site


def _login(site: Site, user: str) -> dict[str, Any]:
    path = site.dir / f"{user}.password"
    path.write_text(USERS[user] + "\n")
    path.chmod(0o600)
    return {"username": user, "password_file": path.name}


def _hub(site: Site, config: Path) -> Process:
    """`gate hub` at DEBUG: each message it stores is a line, so the test sees who took what."""
    output = site.dir / f"{config.stem}-hub-{len(site.processes)}.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gate", "--log-level", "DEBUG", "hub", "--config", str(config)], stdout=out,
            stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    running = Process(process, output)
    site.processes.append(running)
    return running


class Writer(threading.Thread):
    """A device's lanes writing journal rows steadily (its own connection to the ledger)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.written = 0

    def run(self) -> None:
        ledger = Ledger.open(self.path)
        try:
            while not self.stop.wait(0.01):
                ledger.record_event("lookup", at=AT, lane="l1", body={"n": self.written}, reason="ok")
                self.written += 1
        finally:
            ledger.close()


def _stored(dsn: str) -> list[tuple[str, str, int, str]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT device, incarnation, seq, id FROM event WHERE site = 's1'").fetchall()


def _holder_record(n: int) -> dict[str, Any]:
    return {"type": "holder", "id": f"h-{n}", "version": 1, "display_name": f"Ann {chr(64 + n)}."}


def _holder(mirror: Path, holder: str) -> bool:
    if not mirror.exists():
        return False
    copy = Ledger.open(mirror, create=False)
    try:
        return copy.holder(holder) is not None
    finally:
        copy.close()


def test_two_hubs_share_the_work_and_one_killed_mid_ingest_loses_nothing_and_counts_nothing_twice(
    guarded: Site, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    site = guarded
    public = hub_key(site, capsys)
    secret = site.dir / "hub.dsn"
    secret.write_text(pg_dsn + "\n")
    secret.chmod(0o600)
    shared = {"dsn_file": "hub.dsn", "group": "hub", "ledger_key_file": "keys/hub.key"}
    # Each its own machine: its own copy of the ledger, a-hub-ledger.sqlite and b-hub-ledger.sqlite.
    configs = {name: site.config(name, hub={**shared, "instance": name}, **_login(site, "hub")) for name in "ab"}
    mirrors = {name: site.dir / f"{name}-hub-ledger.sqlite" for name in configs}
    # Batch 1, a ticket each device admits while apart: a double use, which whichever hub stores
    # the second finds, and the publisher alone sends (the retained list is never an older one).
    publish(site, configs["a"], "venue.jsonl", ticket("AAA"))
    devices = {}
    for name in ("d1", "d2"):
        config = site.config(name, device=name, ledger_keys={"hub": public}, **_login(site, name))
        devices[name] = Ledger.open(site.dir / f"{name}.sqlite")
        devices[name].import_file(site.dir / "venue.jsonl")
        use(engine(config, devices[name]), "AAA")
    hubs = {name: _hub(site, config) for name, config in configs.items()}
    for name in devices:
        site.run("sync", site.dir / f"{name}.toml")
    writers = {name: Writer(site.dir / f"{name}.sqlite") for name in devices}
    try:
        leader = until(lambda: next((n for n, hub in hubs.items() if LEADS in hub.log()), None), what="a publisher")
        other = "b" if leader == "a" else "a"
        for writer in writers.values():
            writer.start()

        until(lambda: all("t-aaa" in (d.setting(CONFLICTS) or "") for d in devices.values()), what="the double use")
        # A file published on the other hub's machine: out by the publisher, into both copies.
        publish(site, configs[other], "monday.jsonl", _holder_record(1))
        until(lambda: all(d.setting("sync.batch_seq") == "2" for d in devices.values()), what="batch 2 at the devices")
        until(lambda: _holder(mirrors[leader], "h-1"), what="batch 2 in the publisher's copy, from the log")

        # Both hubs take a share of the devices' messages, each message one hub's (had both got every
        # message, half the lines would store nothing); then the publisher dies mid-ingest.
        until(lambda: all(len(STORED.findall(hub.log())) >= 20 for hub in hubs.values()), what="both hubs' shares")
        handled = [int(n) for hub in hubs.values() for n in HANDLED.findall(hub.log())]
        assert handled.count(0) < len(handled) / 10, handled
        assert "batch 2 published" in hubs[leader].log() and "batch 2 published" not in hubs[other].log()
        # Frozen first, so the broker has handed it messages it never stores: they must come again.
        hubs[leader].process.send_signal(signal.SIGSTOP)
        frozen_at = sum(w.written for w in writers.values())
        until(lambda: sum(w.written for w in writers.values()) > frozen_at + 50, what="rows while it hangs")
        assert hubs[leader].stop(signal.SIGKILL) == -signal.SIGKILL
        killed_at = sum(w.written for w in writers.values())
        until(lambda: sum(w.written for w in writers.values()) > killed_at + 100, what="more rows after the kill")

        # A file published on the dead hub's machine: the survivor publishes it, and its copy follows.
        publish(site, configs[leader], "tuesday.jsonl", _holder_record(2))
        until(lambda: all(d.setting("sync.batch_seq") == "3" for d in devices.values()), what="batch 3 at the devices")
        until(lambda: _holder(mirrors[other], "h-2"), what="batch 3 in the survivor's copy")
        assert LEADS in hubs[other].log()
        assert all(d.holder("h-2") is not None for d in devices.values())

        for writer in writers.values():
            writer.stop.set()
            writer.join(timeout=10)
        until(lambda: all(d.outbox().depth() == 0 for d in devices.values()), what="every outbox confirmed")
        assert "sent again" in "".join(p.log() for p in site.processes if "-sync-" in p.output.name)

        # Every event once: by (device, incarnation, seq) and by id, exactly the devices' journals.
        stored = _stored(pg_dsn)
        assert len({(d, i, s) for d, i, s, _ in stored}) == len(stored)
        for name, ledger in devices.items():
            journal = {(e.seq, e.id) for e in ledger.journal(limit=100_000)}
            mine = [(seq, id_) for device, incarnation, seq, id_ in stored if device == name]
            assert len(mine) == len(journal) == writers[name].written + 2  # and the admission's hold and commit
            assert set(mine) == journal and len({id_ for _, id_ in mine}) == len(mine)
            assert {i for d, i, _, _ in stored if d == name} == {ledger.outbox().incarnation()}
        # A late hub's lower mark, retained after the real one: the device keeps its floor, its
        # outbox never goes back, and what it writes next is confirmed as before.
        d1 = devices["d1"]
        floor = d1.outbox().floor()
        late = Confirmed(v=1, device="d1", incarnation=d1.outbox().incarnation(), through=1)
        subprocess.run(["mosquitto_pub", "-p", str(site.broker.port), "-u", "hub", "-P", USERS["hub"], "-V", "mqttv5",
                        "-t", "gate/v1/s1/hub/confirmed/d1", "-q", "1", "-r", "-s"],
                       input=dump(late), check=True, timeout=10)  # fmt: skip
        retained = subprocess.run(["mosquitto_sub", "-p", str(site.broker.port), "-u", "d1", "-P", USERS["d1"], "-V",
                                   "mqttv5", "-t", "gate/v1/s1/hub/confirmed/d1", "-C", "1", "-W", "5"],
                                  capture_output=True, check=True, timeout=10).stdout  # fmt: skip
        assert Confirmed.model_validate_json(retained).through == 1  # what d1 finds on connecting
        sync = next(p for p in site.processes if p.output.name.startswith("d1-sync"))
        assert sync.stop() == 0
        site.run("sync", site.dir / "d1.toml")
        for n in range(5):
            d1.record_event("lookup", at=AT, lane="l1", body={"after": n}, reason="ok")
        until(lambda: d1.outbox().depth() == 0 and d1.outbox().floor() == floor + 5, what="5 more after a late mark")
        assert len([row for row in _stored(pg_dsn) if row[0] == "d1"]) == writers["d1"].written + 2 + 5
        assert hubs[other].stop() == 0
        assert "Traceback" not in hubs[other].log() + "".join(p.log() for p in site.processes)
    finally:
        for writer in writers.values():
            writer.stop.set()
        for ledger in devices.values():
            ledger.close()


def test_a_hub_s_copy_follows_the_log_and_a_snapshot_is_never_ahead_of_the_copy_it_is_made_from(
    site: Site, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_key(site, capsys)
    secret = site.dir / "hub.dsn"
    secret.write_text(pg_dsn + "\n")
    secret.chmod(0o600)
    paths = {name: site.config(name, hub={"dsn_file": "hub.dsn", "ledger_key_file": "keys/hub.key"}) for name in "ab"}
    configs = {name: load_config(path) for name, path in paths.items()}
    store = open_store(configs["b"])
    mirror = Mirror(configs["b"])
    try:
        publish(site, paths["a"], "monday.jsonl", _holder_record(1))  # on machine a: a's copy holds it
        assert mirror.follow(store) == 1 and _holder(site.dir / "b-hub-ledger.sqlite", "h-1")
        publish(site, paths["a"], "tuesday.jsonl", _holder_record(2))  # b's copy is one behind now
        assert store.head() == 2 and mirror.seq == 1
        # A snapshot made on b before its copy follows says batch 1, so a gate taking it asks for 2.
        assert build(configs["b"], store).seq == 1
        assert build(configs["a"], store).seq == 2  # a's copy imported both files itself
        assert mirror.follow(store) == 1 and mirror.follow(store) == 0 and mirror.seq == 2
        assert build(configs["b"], store).seq == 2
    finally:
        mirror.close()
        store.close()


def test_a_group_of_hubs_without_postgresql_is_refused_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(config_text({"ledger": {"path": "x.sqlite"}, "hub": {"group": "hub"}}))
    with pytest.raises(ConfigError, match=r"hub.group: hub processes share a store on PostgreSQL only: set hub.dsn"):
        load_config(config)
    config.write_text(config_text({"ledger": {"path": "x.sqlite"}, "hub": {"instance": "a/b"}}))
    with pytest.raises(ConfigError, match=r"hub.instance: String should match pattern"):  # a topic level: no '/'
        load_config(config)
