"""Mixed versions, with real parts: a gate reads payloads of its version and the one before (a
version-1 batch applies beside version-2 ones) and drops a version-3 payload with a line that says
so; the hub learns each device's versions from its health and refuses, naming the device, what an
older device would not read: a file in a newer exchange format, a key change (a version-2 batch)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.hub.store import SqliteHubStore
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until

HEADER = {"type": "header", "format": "gate-ledger", "version": 1}


def _publish(broker: Broker, topic: str, payload: dict[str, object], *, retain: bool = False) -> None:
    argv = ["mosquitto_pub", "-p", str(broker.port), "-t", topic, "-q", "1", "-s", *(["-r"] if retain else [])]
    subprocess.run(argv, input=json.dumps(payload).encode(), check=True, timeout=10)


def _file(site: Site, name: str, *, version: int = 1) -> Path:
    path = site.dir / name
    holder = {"type": "holder", "id": "h-1", "version": 1, "display_name": "Ann"}
    path.write_text(f"{json.dumps({**HEADER, 'version': version})}\n{json.dumps(holder)}\n")
    return path


def _hub(site: Site, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(site.dir / "keys")]) == 0
    public = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["public_key"]
    return site.config("hub", hub={"ledger_key_file": "keys/hub.key"}), str(public)


def test_a_gate_applies_version_1_batches_and_drops_a_version_3_payload_saying_so(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_config, public = _hub(site, capsys)
    assert main(["hub", "publish", str(_file(site, "monday.jsonl")), "--config", str(hub_config)]) == 0
    with sqlite3.connect(site.dir / "hub-hub.sqlite") as db:  # what the hub writes when nothing needs more
        assert json.loads(db.execute("SELECT payload FROM batch WHERE seq = 1").fetchone()[0])["v"] == 1
    site.run("hub", hub_config)
    config = site.config("d1", device="d1", ledger_keys={"hub": public})
    ledger = Ledger.open(site.dir / "d1.sqlite")
    sync = site.run("sync", config)
    until(lambda: ledger.setting("sync.batch_seq") == "1", what="the version-1 batch applied")

    # A version-3 batch (a newer hub) and version-3 events (a newer peer): dropped, said, harmless.
    batch = {"v": 3, "seq": 2, "lines": "", "sha256": "0" * 64, "key": "hub", "signature": "x", "extra": 1}
    _publish(broker, "gate/v1/s1/hub/batches", batch)
    events = {"v": 3, "device": "d9", "incarnation": "0" * 16, "floor": 0, "events": [], "new": True}
    _publish(broker, "gate/v1/s1/devices/d9/events", events)
    until(lambda: "Events: version 3" in sync.log(), what="the events dropped")
    assert ("a message on gate/v1/s1/hub/batches dropped: Batch: version 3, newer than this gate reads (1, 2): "
            "upgrade this gate") in sync.log()  # fmt: skip
    assert "a message of d9 dropped: Events: version 3, newer than this gate reads (1, 2)" in sync.log()
    assert ledger.setting("sync.batch_seq") == "1" and sync.process.poll() is None
    assert sync.stop() == 0
    ledger.close()


def test_the_hub_refuses_what_a_device_it_knows_would_not_read_naming_it(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    hub_config, _ = _hub(site, capsys)
    hub = site.run("hub", hub_config)
    until(lambda: "connected to" in hub.log(), what="the hub connected")
    # An older device's health (retained, as it publishes it): it reads payloads 1 and format 1 only.
    old = {"v": 1, "device": "d-old", "at": time.time(), "software": "0.9.0", "format": 1, "payloads": [1],
           "outbox": 0, "confirmed_through": 0, "batch": 0, "head": 0}  # fmt: skip
    _publish(broker, "gate/v1/s1/devices/d-old/health", old, retain=True)
    _publish(broker, "gate/v1/s1/devices/d-liar/health", {**old, "device": "d-old"})  # another's name: dropped

    def known() -> list[str]:
        store = SqliteHubStore(site.dir / "hub-hub.sqlite")
        try:
            return [d.device for d in store.devices()]
        finally:
            store.close()

    until(lambda: known() == ["d-old"], what="the hub knows d-old's versions")
    until(lambda: "devices/d-liar/health dropped: it names device 'd-old'" in hub.log(), what="the liar dropped")

    # A key change is a version-2 batch: d-old could not read it.
    new = "A" * 43 + "="
    assert main(["hub", "keys", "add", "hub2", new, "--config", str(hub_config)]) == 2
    assert ("a key change needs payload version 2, which d-old (gate 0.9.0, payloads 1) cannot read: upgrade it "
            "first") in capsys.readouterr().err  # fmt: skip
    # A file in a newer exchange format: refused before anything enters the log.
    assert main(["hub", "publish", str(_file(site, "next.jsonl", version=2)), "--config", str(hub_config)]) == 2
    assert "is in exchange format 2, newer than d-old (gate 0.9.0, format 1) reads" in capsys.readouterr().err
    # The same device upgraded (its next health): the key change goes out.
    _publish(broker, "gate/v1/s1/devices/d-old/health", {**old, "at": time.time() + 1, "payloads": [1, 2]}, retain=True)

    def reads_2() -> bool:
        store = SqliteHubStore(site.dir / "hub-hub.sqlite")
        try:
            return all(2 in d.payloads for d in store.devices())
        finally:
            store.close()

    until(reads_2, what="the upgrade noted")
    assert main(["hub", "keys", "add", "hub2", new, "--config", str(hub_config)]) == 0
    assert hub.stop() == 0
