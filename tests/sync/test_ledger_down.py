"""The ledger down, with real parts: `gate hub publish` signs the back office's files into the hub's
log, `gate hub` publishes them, and a device's `gate sync` applies them in order: a new gate
catches up from nothing, a live batch arrives, a forged or rolled-back batch and lines the
import refuses are refused and said, and the lanes keep their ledger meanwhile."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger
from gate.cli import main
from gate.sync.batches import sign_batch
from gate.sync.payloads import dump
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until

HEADER = '{"type":"header","format":"gate-ledger","version":1}'


def _hub_key(site: Site, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(site.dir / "keys")]) == 0
    line: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return str(line["public_key"])


def _file(site: Site, name: str, *records: dict[str, Any]) -> Path:
    path = site.dir / name
    path.write_text("\n".join([HEADER, *(json.dumps(r) for r in records)]) + "\n")
    return path


def _holder(n: int, version: int = 1) -> dict[str, Any]:
    return {"type": "holder", "id": f"h-{n}", "version": version, "display_name": f"Ann {chr(64 + n)}."}


def _publish(hub_config: Path, path: Path) -> None:
    assert main(["hub", "publish", str(path), "--config", str(hub_config)]) == 0


def test_batches_down_caught_up_live_and_refused_when_forged_rolled_back_or_unimportable(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    public = _hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    _publish(hub_config, _file(site, "monday.jsonl", _holder(1), _holder(2)))
    _publish(hub_config, _file(site, "tuesday.jsonl", _holder(3)))
    site.run("hub", hub_config)

    # A new gate, never connected: the retained head says 2; it takes the hub's snapshot of batch 2
    # (with the site's usage: tests/sync/test_snapshot.py), not a replay.
    config = site.config("d1", device="d1", ledger_keys={"hub": public})
    ledger = Ledger.open(site.dir / "d1.sqlite")
    sync = site.run("sync", config)
    until(lambda: ledger.setting("sync.batch_seq") == "2", what="caught up from nothing")
    assert [ledger.holder(f"h-{n}") is not None for n in (1, 2, 3)] == [True, True, True]
    until(lambda: "switched in" in sync.log(), what="the switch logged")
    assert "catch-up asked after batch 0" not in sync.log()

    # Live: the next file is there within moments.
    _publish(hub_config, _file(site, "wednesday.jsonl", _holder(4)))
    until(lambda: ledger.setting("sync.batch_seq") == "3", what="the live batch")
    assert ledger.holder("h-4") is not None
    # The live head was a clock: the offset measured (same machine: well under a second).
    until(lambda: ledger.setting("sync.clock_offset_s"), what="the clock offset measured")
    assert abs(float(ledger.setting("sync.clock_offset_s") or "nan")) < 1.0
    # The retained health message: versions and how the device stands.
    health = json.loads(subprocess.run(
        ["mosquitto_sub", "-p", str(broker.port), "-t", "gate/v1/s1/devices/d1/health", "-C", "1", "-W", "10"],
        check=True, capture_output=True, timeout=20).stdout)  # fmt: skip
    assert (health["device"], health["format"], health["payloads"]) == ("d1", 1, [1, 2])
    assert health["software"] == version("gate") and 0 <= health["batch"] <= 3 and health["outbox"] >= 0

    def rogue(batch_payload: bytes) -> None:
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "gate/v1/s1/hub/batches", "-q", "1", "-s"],
                       input=batch_payload, check=True, timeout=10)  # fmt: skip

    # Forged: batch 4, signed by a key this device does not trust.
    other = Ed25519PrivateKey.generate()
    rogue(dump(sign_batch("s1", 4, HEADER + "\n" + json.dumps(_holder(9)) + "\n", key_id="hub", key=other)))
    until(lambda: "batch 4 refused: its signature does not check out" in (ledger.setting("sync.ledger_problem") or ""),
          what="the forgery said")  # fmt: skip
    # Rolled back: a different batch at the applied seq 3, even well signed, is not taken.
    key_file = site.dir / "keys" / "hub.key"
    hub_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(hub_key, Ed25519PrivateKey)
    rogue(dump(sign_batch("s1", 3, HEADER + "\n" + json.dumps(_holder(8)) + "\n", key_id="hub", key=hub_key)))
    until(lambda: "batch 3 differs from the one applied" in (ledger.setting("sync.ledger_problem") or ""),
          what="the rollback said")  # fmt: skip
    # Lines the import refuses: batch 4 with a holder whose name is a phone number.
    bad = HEADER + "\n" + json.dumps({**_holder(7), "display_name": "06 12 34 56 78"}) + "\n"
    rogue(dump(sign_batch("s1", 4, bad, key_id="hub", key=hub_key)))
    until(lambda: "batch 4 refused: line 2, display_name" in (ledger.setting("sync.ledger_problem") or ""),
          what="the import's refusal said, by line and field")  # fmt: skip
    assert [ledger.holder(f"h-{n}") for n in (7, 8, 9)] == [None, None, None]
    assert ledger.setting("sync.batch_seq") == "3"  # the lanes keep deciding on what they had

    # The hub's real batch 4 comes: applied, and the problem is over.
    _publish(hub_config, _file(site, "thursday.jsonl", _holder(5)))
    until(lambda: ledger.setting("sync.batch_seq") == "4", what="the real batch 4")
    assert ledger.setting("sync.ledger_problem") == ""
    assert sync.stop() == 0
    ledger.close()


def test_a_file_the_hub_cannot_check_never_enters_its_log(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    _hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    bad = _file(site, "bad.jsonl", {**_holder(1), "version": 0})
    assert main(["hub", "publish", str(bad), "--config", str(hub_config)]) == 2  # as gate ledger import
    assert "line 2: version" in capsys.readouterr().err
    store = site.dir / "hub-hub.sqlite"
    if store.exists():  # nothing appended: the log stays empty
        with sqlite3.connect(store) as db:
            assert db.execute("SELECT count(*) FROM batch").fetchone()[0] == 0


def test_a_ledger_key_others_may_read_signs_nothing(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    _hub_key(site, capsys)
    (site.dir / "keys" / "hub.key").chmod(0o644)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    assert main(["hub", "publish", str(_file(site, "monday.jsonl", _holder(1))), "--config", str(hub_config)]) == 2
    assert "hub.ledger_key_file" in capsys.readouterr().err and not (site.dir / "hub-hub.sqlite").exists()
