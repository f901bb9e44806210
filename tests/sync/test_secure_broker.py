"""Sync through a Mosquitto that checks who is who: passwords and the ACL of docs/mqtt.md, and TLS
with certificates the test makes. A device writes only its own topics; a wrong password gets
nowhere; a rogue client cannot write under another device's name."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.cache import Ledger
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until
from tests.sync.guarded import broker_pki, guarded_site, secret

AT = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


USERS = {"d1": "d1-secret", "d2": "d2-secret", "hub": "hub-secret"}


def _rows(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        try:
            return int(db.execute("SELECT count(*) FROM event").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Site]:
    with guarded_site(tmp_path, USERS) as site:
        yield site


def test_passwords_and_the_acl_let_each_device_write_its_own_topics_only(guarded: Site) -> None:
    site = guarded
    store = site.dir / "hub-hub.sqlite"
    site.run("hub", site.config("hub", username="hub", password_file=secret(site, "hub", USERS["hub"])))
    config = site.config("d1", device="d1", username="d1", password_file=secret(site, "d1", USERS["d1"]))
    ledger = Ledger.open(site.dir / "d1.sqlite")
    for n in range(4):
        ledger.record_event("lookup", at=AT, lane="l1", body={"n": n})
    site.run("sync", config)
    until(lambda: ledger.outbox().depth() == 0 and _rows(store) == 4, what="d1's rows through the ACL")

    # A wrong password gets nowhere: nothing of d3 reaches the hub, and it says why.
    wrong = site.config("d3", device="d3", username="d3", password_file=secret(site, "d3", "guess"))
    third = Ledger.open(site.dir / "d3.sqlite")
    third.record_event("lookup", at=AT, lane="l1", body={})
    intruder = site.run("sync", wrong)
    until(lambda: "broker 127.0.0.1" in intruder.log(), what="d3 refused")
    assert "guess" not in intruder.log()

    # d2's own credentials cannot write under d1's name: the broker refuses it, the hub never sees it.
    subprocess.run(
        ["mosquitto_pub", "-p", str(site.broker.port), "-u", "d2", "-P", USERS["d2"], "-V", "mqttv5",
         "-t", "gate/v1/s1/devices/d1/events", "-q", "1", "-m", "{}"],
        check=False, timeout=10, capture_output=True,
    )  # fmt: skip
    ledger.record_event("lookup", at=AT, lane="l1", body={"n": 4})
    until(lambda: _rows(store) == 5 and ledger.outbox().depth() == 0, what="d1's next row, confirmed")
    assert "a message on gate/v1/s1/devices/d1/events dropped" not in site.processes[0].log()  # never got there
    ledger.close()
    third.close()


def test_sync_over_tls_checks_the_broker_s_certificate(tmp_path: Path) -> None:
    files = Path(tmp_path / "pki")
    files.mkdir()
    broker = Broker(tls=broker_pki(files))
    broker.start()
    site = Site(tmp_path, broker)
    try:
        (site.dir / "ca.crt").write_bytes((files / "ca.crt").read_bytes())
        tls = {"ca_file": "ca.crt"}
        store = site.dir / "hub-hub.sqlite"
        site.run("hub", site.config("hub", tls=tls))
        config = site.config("d1", device="d1", tls=tls)
        ledger = Ledger.open(site.dir / "d1.sqlite")
        ledger.record_event("lookup", at=AT, lane="l1", body={})
        site.run("sync", config)
        until(lambda: ledger.outbox().depth() == 0 and _rows(store) == 1, what="a row over TLS")
        # A device that does not know the broker's CA refuses to talk to it.
        (site.dir / "other-ca.crt").write_bytes(broker_pki(files)[0].read_bytes())
        Ledger.open(site.dir / "d2.sqlite").close()
        stranger = site.run("sync", site.config("d2", device="d2", tls={"ca_file": "other-ca.crt"}))
        until(lambda: "certificate verify failed" in stranger.log() or "CERTIFICATE_VERIFY_FAILED" in stranger.log(),
              what="the unknown broker refused")  # fmt: skip
        ledger.close()
    finally:
        site.kill_all()
        broker.close()
