"""Snapshots, with real parts: `gate hub` builds them from its copy of the ledger and the events it
stores; a new or far-behind device's `gate sync` pulls them chunk by chunk, stages them in its
ledger file while its lane keeps deciding, switches them in, and goes on with the batches after.
A killed transfer resumes; a manifest or chunk that does not check out is refused and said."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import json
import re
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gate.cache import Ledger
from gate.cli import main
from gate.config import load_config
from gate.hub.snapshots import build
from gate.hub.store import SqliteHubStore
from gate.reasons import Reason
from gate.sync.payloads import dump
from gate.sync.snapshot import Chunk, EventPage, sign_manifest
from gate.sync.trust import trusted_keys
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until
from tests.sync.hubs import engine, hub_has, hub_key, publish, reason, ticket, use


def _at(ledger: Ledger) -> dict[str, object]:
    """How far a snapshot's load got (sync.snapshot_at), {} without one under way."""
    return dict(json.loads(ledger.setting("sync.snapshot_at") or "{}"))


def test_a_new_gate_catches_up_by_snapshot_with_the_site_s_usage_then_by_batches(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    public = hub_key(site, capsys)
    # The hub builds a new snapshot as soon as its newest is one batch old.
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"}, snapshot_behind=1)
    publish(site, hub_config, "monday.jsonl", ticket("T1"), ticket("T2"), ticket("T3"))
    hub = site.run("hub", hub_config)

    def device(name: str) -> tuple[Path, Ledger]:
        config = site.config(name, device=name, ledger_keys={"hub": public})
        return config, Ledger.open(site.dir / f"{name}.sqlite")

    # d1 is new: a snapshot of batch 1 (the hub builds it), not a replay.
    d1_config, d1 = device("d1")
    sync1 = site.run("sync", d1_config)
    until(lambda: d1.setting("sync.batch_seq") == "1", what="d1 at batch 1")
    until(lambda: re.search(r"snapshot \w+ switched in [\d.]+ ms: batch 1, 0 record\(s\), 3 entitlement", sync1.log()),
          what="the switch logged")  # fmt: skip
    assert "catch-up asked" not in sync1.log()
    lane1 = engine(d1_config, d1)
    use(lane1, "T1")
    until(lambda: hub_has(site, "d1") == 1, what="T1's use at the hub")
    publish(site, hub_config, "tuesday.jsonl", ticket("T4"))
    until(lambda: d1.setting("sync.batch_seq") == "2", what="batch 2 at d1, as a batch")

    # d2 is new after T1's use: the hub builds a snapshot of batch 2, T1's use in it as peer usage.
    d2_config, d2 = device("d2")
    sync2 = site.run("sync", d2_config)
    until(lambda: d2.setting("sync.batch_seq") == "2", what="d2 at batch 2")
    lane2 = engine(d2_config, d2)
    assert reason(lane2, "T1") is Reason.ALREADY_USED  # the counts match the site's
    assert reason(lane2, "T4") is Reason.OK

    # d3 comes after T2's use: the hub's snapshot of batch 2 is still fresh, so it serves it again,
    # and T2's use (stored after that snapshot's position) comes as a peer event after it.
    use(lane1, "T2")
    until(lambda: hub_has(site, "d1") == 2, what="T2's use at the hub")
    d3_config, d3 = device("d3")
    sync3 = site.run("sync", d3_config)
    until(lambda: d3.setting("sync.batch_seq") == "2", what="d3 at batch 2")
    lane3 = engine(d3_config, d3)
    until(lambda: reason(lane3, "T2") is Reason.ALREADY_USED, timeout=5, what="T2's use at d3")
    assert [reason(lane3, code) for code in ("T1", "T3")] == [Reason.ALREADY_USED, Reason.OK]
    assert hub.log().count("built in") == 2
    assert re.search(r"peers' events after position \d+: [1-9]\d* applied", sync3.log())  # logged before the switch
    assert not _at(d3)  # nothing under way any more

    # Each goes on with the batches after its snapshot's.
    publish(site, hub_config, "wednesday.jsonl", ticket("T5"))
    for ledger in (d1, d2, d3):
        until(lambda: ledger.setting("sync.batch_seq") == "3", what="batch 3 everywhere")  # noqa: B023
    assert reason(lane3, "T5") is Reason.OK
    assert all(process.stop() == 0 for process in (sync1, sync2, sync3, hub))
    for ledger in (d1, d2, d3):
        ledger.close()


def test_a_far_behind_gate_loads_100_000_entitlements_while_its_lane_decides_and_resumes_after_a_kill(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    public = hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    publish(site, hub_config, "opening.jsonl", ticket("OLD"))
    hub = site.run("hub", hub_config)
    config = site.config("d1", device="d1", ledger_keys={"hub": public}, snapshot_behind=5)
    ledger = Ledger.open(site.dir / "d1.sqlite")
    sync = site.run("sync", config)
    until(lambda: ledger.setting("sync.batch_seq") == "1", what="d1 at batch 1")
    assert sync.stop() == 0
    # While d1 is away, the back office withdraws OLD and sells a season: many batches.
    withdrawn = {"type": "entitlement", "id": "t-old", "version": 2, "deleted": True}
    publish(site, hub_config, "season.jsonl", withdrawn, *(ticket(f"N{n}") for n in range(100_000)))
    with contextlib.closing(sqlite3.connect(site.dir / "hub-hub.sqlite")) as store:
        head = int(store.execute("SELECT max(seq) FROM batch").fetchone()[0])
    assert head > 1 + 5  # far behind: a snapshot, not a replay
    until(lambda: f"batch {head} published" in hub.log(), timeout=60, what="the hub done publishing")
    # The broker's queue for d1 is gone, as after a long absence (brokers keep few messages a client).
    subprocess.run(["mosquitto_sub", "-p", str(broker.port), "-V", "5", "-i", "gate-sync-d1", "-t", "none", "-W", "1"],
                   check=False, capture_output=True, timeout=10)  # fmt: skip

    # The lane keeps deciding throughout, on its own connection: each turn reads OLD and N99999 in
    # one read transaction (the old ledger has the one, the snapshot the other: never both, never
    # neither), then decides on a new code and commits what it admits.
    seen: list[tuple[float, bool, bool]] = []
    failed: list[BaseException] = []
    done = threading.Event()

    def lane() -> None:
        try:
            with Ledger.open(site.dir / "d1.sqlite") as own:
                decide = engine(config, own)
                for n in itertools.count():
                    if done.is_set():
                        return
                    with own.snapshot():
                        old, new = bool(own.find("OLD")), bool(own.find("N99999"))
                    outcome = decide.admit(f"N{n}", lane="l1", at=dt.datetime.now(dt.UTC))
                    if outcome.redemption is not None:
                        decide.commit(outcome.redemption, at=dt.datetime.now(dt.UTC))
                    seen.append((time.monotonic(), old, new))
                    time.sleep(0.002)
        except BaseException as exc:  # the test fails with it below
            failed.append(exc)

    deciding = threading.Thread(target=lane)
    deciding.start()
    try:
        sync = site.run("sync", config)
        until(lambda: _at(ledger), timeout=60, what="the load begun")
        loading = time.monotonic()
        until(lambda: int(str(_at(ledger).get("chunk", 0))) >= 2, timeout=60, what="two chunks in")
        # The hub stops answering, and gate sync is killed mid-transfer.
        hub.process.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        sync.stop(signal.SIGKILL)
        hub.process.send_signal(signal.SIGCONT)
        manifest = json.loads(ledger.setting("sync.snapshot_manifest") or "{}")
        kept = int(str(_at(ledger)["chunk"]))
        assert 2 <= kept < len(manifest["chunks"]) and ledger.setting("sync.batch_seq") == "1"
        assert bool(ledger.find("OLD")) and not ledger.find("N99999")  # the lane still on the old ledger

        # Started again, it resumes from the chunk it had reached, and switches the snapshot in.
        sync = site.run("sync", config)
        until(lambda: ledger.setting("sync.batch_seq") == str(head), timeout=60, what="the snapshot in, caught up")
        until(lambda: len(seen) > 0 and seen[-1][2], timeout=5, what="the lane on the new ledger")
    finally:
        done.set()
        deciding.join(timeout=30)
    assert not failed, failed
    assert f"resuming snapshot {manifest['id']} at chunk {kept + 1} of {len(manifest['chunks'])}" in sync.log()
    switched = next(at for at, _, new in seen if new)
    assert sum(loading <= at < switched for at, _, _ in seen) >= 20  # decisions kept coming during the load
    assert all(old != new for _, old, new in seen)  # the switch is one transaction
    assert ledger.stats()["records"]["entitlement"] == 100_000 and not ledger.find("OLD")
    assert not _at(ledger) and ledger.setting("sync.ledger_problem") == ""
    assert sync.stop() == 0
    ledger.close()


class RogueHub:
    """A stand-in for a hub gone wrong, on the real broker: it answers a device's snapshot requests
    with the answers it is given, each kind's first answers once, its last one from then on."""

    def __init__(self, broker: Broker, *, manifests: list[bytes], chunks: dict[int, list[bytes]]) -> None:
        self.manifests = manifests
        self.chunks = chunks
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rogue-hub", protocol=mqtt.MQTTv5)
        self.client.on_message = self._answer
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe("gate/v1/s1/hub/requests", qos=1)
        self.client.publish("gate/v1/s1/hub/head", json.dumps({"v": 1, "seq": 1, "at": time.time()}), qos=1,
                            retain=True)  # fmt: skip
        self.client.loop_start()

    def _answer(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        want = json.loads(message.payload)
        if want["want"] == "manifest":
            answer = self.manifests.pop(0) if len(self.manifests) > 1 else self.manifests[0]
        elif want["want"] == "chunk":
            given = self.chunks[want["index"]]
            answer = given.pop(0) if len(given) > 1 else given[0]
        else:
            answer = dump(EventPage(v=1, kind="snapshot.events", after=want["after"], through=want["after"],
                                    more=False, rows=[]))  # fmt: skip
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.CorrelationData = message.properties.CorrelationData  # type: ignore[union-attr]
        client.publish(message.properties.ResponseTopic, answer, qos=1, properties=properties)  # type: ignore[union-attr]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_manifest_badly_signed_or_a_corrupt_chunk_is_refused_and_said_and_the_good_one_taken(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    # A real snapshot, as the hub builds it from its log and its copy of the ledger...
    public = hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    publish(site, hub_config, "monday.jsonl", ticket("T1"), ticket("T2"))
    with contextlib.closing(SqliteHubStore(site.dir / "hub-hub.sqlite")) as store:
        manifest = build(load_config(hub_config), store)
        chunks = [store.snapshots().chunk(manifest.id, index) or b"" for index in range(len(manifest.chunks))]
    # ...served by a hub gone wrong: first a manifest signed by another key, then a damaged chunk.
    forged = sign_manifest(manifest, key_id="hub", key=Ed25519PrivateKey.generate())
    damaged = bytearray(chunks[0])
    damaged[len(damaged) // 2] ^= 0x01

    def chunk(index: int, data: bytes) -> bytes:
        return dump(Chunk(v=1, kind="snapshot.chunk", snapshot=manifest.id, index=index,
                          data=base64.b64encode(data).decode()))  # fmt: skip

    answers = {i: [chunk(i, data)] for i, data in enumerate(chunks)}
    answers[0].insert(0, chunk(0, bytes(damaged)))
    rogue = RogueHub(broker, manifests=[dump(forged), dump(manifest)], chunks=answers)
    try:
        config = site.config("d1", device="d1", ledger_keys={"hub": public})
        ledger = Ledger.open(site.dir / "d1.sqlite")
        sync = site.run("sync", config)

        def problem() -> str:
            return ledger.setting("sync.ledger_problem") or ""

        until(lambda: problem() == f"snapshot {manifest.id} refused: its signature does not check out",
              what="the forged manifest refused")  # fmt: skip
        assert not _at(ledger) and not ledger.find("T1")  # nothing of it taken
        until(lambda: problem() == f"snapshot {manifest.id} refused: chunk 1 of {len(chunks)}: its SHA-256 does not "
              "match the manifest's", what="the damaged chunk refused")  # fmt: skip
        assert _at(ledger)["chunk"] == 0 and not ledger.find("T1")  # not a row of it staged, the lane unchanged
        # Asked again after a while, the good chunk comes: the snapshot is taken, the problem over.
        until(lambda: ledger.setting("sync.batch_seq") == "1", what="the good snapshot taken")
        assert problem() == "" and ledger.find("T1") and ledger.find("T2")
        assert sync.stop() == 0
        ledger.close()
    finally:
        rogue.close()


def test_a_new_gate_trusts_through_a_snapshot_the_key_a_batch_rotated_to(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    first = hub_key(site, capsys)  # all the device's config knows
    assert main(["keys", "generate", "--id", "hub2", "--purpose", "ledger", "--out", str(site.dir / "keys")]) == 0
    second = str(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["public_key"])
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    publish(site, hub_config, "monday.jsonl", ticket("T1"))
    assert main(["hub", "keys", "add", "hub2", second, "--retire", "hub", "--config", str(hub_config)]) == 0
    hub_config = site.config("hub", hub={"ledger_key_id": "hub2", "ledger_key_file": "keys/hub2.key"})
    site.run("hub", hub_config)

    # The snapshot of batch 2 is signed by hub2: the device takes it, having checked batch 2's
    # rotation (signed by hub, which it trusts) as a replay would have.
    config_keys = {"hub": first}
    config = site.config("d1", device="d1", ledger_keys=config_keys)
    ledger = Ledger.open(site.dir / "d1.sqlite")
    sync = site.run("sync", config)
    until(lambda: ledger.setting("sync.batch_seq") == "2", what="the snapshot of batch 2")
    assert trusted_keys(ledger, config_keys) == {"hub2": second} and ledger.find("T1")
    publish(site, hub_config, "tuesday.jsonl", ticket("T2"))  # signed by hub2
    until(lambda: ledger.setting("sync.batch_seq") == "3", what="batch 3, signed by the new key")
    assert ledger.find("T2") and ledger.setting("sync.ledger_problem") == ""
    assert sync.stop() == 0
    ledger.close()


def test_a_chunk_damaged_in_the_hub_s_store_is_never_sent_and_a_new_snapshot_is_built(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    public = hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    publish(site, hub_config, "monday.jsonl", ticket("T1"), ticket("T2"))
    hub = site.run("hub", hub_config)
    first = Ledger.open(site.dir / "d1.sqlite")
    sync1 = site.run("sync", site.config("d1", device="d1", ledger_keys={"hub": public}))
    until(lambda: first.setting("sync.batch_seq") == "1", what="d1's snapshot")
    # The hub's disk damages the snapshot it keeps: a bit of its first chunk flips.
    with contextlib.closing(sqlite3.connect(site.dir / "hub-hub.sqlite")) as store, store:
        kept, data = store.execute("SELECT snapshot, data FROM snapshot_chunk WHERE idx = 0").fetchone()
        damaged = bytearray(data)
        damaged[len(damaged) // 2] ^= 0x01
        store.execute("UPDATE snapshot_chunk SET data = ? WHERE snapshot = ? AND idx = 0", (bytes(damaged), kept))

    # d2 is given that snapshot's manifest, but the hub checks each chunk before it sends it: the
    # damaged one is dropped, d2 is told it is gone, asks again, and takes a new one.
    second = Ledger.open(site.dir / "d2.sqlite")
    sync2 = site.run("sync", site.config("d2", device="d2", ledger_keys={"hub": public}))
    until(lambda: second.setting("sync.batch_seq") == "1", what="d2's snapshot")
    assert f"snapshot {kept} chunk 0 is damaged" in hub.log() and hub.log().count("built in") == 2
    assert f"the hub no longer keeps snapshot {kept}: starting over" in sync2.log()
    assert second.find("T1") and second.find("T2") and second.setting("sync.ledger_problem") == ""
    assert sync1.stop() == 0 and sync2.stop() == 0
    first.close()
    second.close()
