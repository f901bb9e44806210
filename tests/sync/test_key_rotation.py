"""Key rotation by batch, with real parts: the device trusts its config's ledger key; `gate hub keys add`
publishes a signed version-2 batch that adds a new key and retires the old one; the next batches,
signed by the new key, apply (across a restart of `gate sync` too); a batch signed by the retired
key is refused with the reason in `sync.ledger_problem`, and the hub will not sign with it either."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger
from gate.cli import main
from gate.sync.batches import sign_batch
from gate.sync.payloads import dump
from gate.sync.trust import KeyChanges, trusted_keys
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until

HEADER = '{"type":"header","format":"gate-ledger","version":1}'


def _key(site: Site, capsys: pytest.CaptureFixture[str], key_id: str) -> tuple[str, Ed25519PrivateKey]:
    out = site.dir / "keys"
    assert main(["keys", "generate", "--id", key_id, "--purpose", "ledger", "--out", str(out)]) == 0
    public = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["public_key"]
    private = serialization.load_pem_private_key((out / f"{key_id}.key").read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return str(public), private


def _file(site: Site, name: str, n: int) -> Path:
    path = site.dir / name
    holder = {"type": "holder", "id": f"h-{n}", "version": 1, "display_name": "Ann"}
    path.write_text(f"{HEADER}\n{json.dumps(holder)}\n")
    return path


def _hub(site: Site, key_id: str) -> Path:
    return site.config("hub", hub={"ledger_key_id": key_id, "ledger_key_file": f"keys/{key_id}.key"})


def _rogue(broker: Broker, payload: bytes) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "gate/v1/s1/hub/batches", "-q", "1", "-s"],
                   input=payload, check=True, timeout=10)  # fmt: skip


def _problem(ledger: Ledger) -> str:
    return ledger.setting("sync.ledger_problem") or ""


def test_a_rotation_by_batch_then_the_new_key_signs_and_the_retired_one_is_refused(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    old_public, old = _key(site, capsys, "hub")
    new_public, new = _key(site, capsys, "hub2")
    hub_config = _hub(site, "hub")
    assert main(["hub", "publish", str(_file(site, "monday.jsonl", 1)), "--config", str(hub_config)]) == 0
    site.run("hub", hub_config)
    config_keys: dict[str, Any] = {"hub": old_public}
    config = site.config("d1", device="d1", ledger_keys=config_keys)  # the config knows the old key only
    ledger = Ledger.open(site.dir / "d1.sqlite")
    sync = site.run("sync", config)
    until(lambda: ledger.setting("sync.batch_seq") == "1", what="batch 1")

    # The rotation: hub2 added and hub retired, in one batch signed by hub (trusted now).
    assert main(["hub", "keys", "add", "hub2", new_public, "--retire", "hub", "--config", str(hub_config)]) == 0
    said = capsys.readouterr().out
    assert "batch 2: ledger key hub2 added, hub retired; signed by hub" in said and "sign with the new key" in said
    until(lambda: ledger.setting("sync.batch_seq") == "2", what="the rotation applied")
    assert trusted_keys(ledger, config_keys) == {"hub2": new_public}

    # The hub still set to sign with the retired key signs nothing.
    assert main(["hub", "publish", str(_file(site, "tuesday.jsonl", 2)), "--config", str(hub_config)]) == 2
    assert "hub.ledger_key_id 'hub' was retired by batch 2" in capsys.readouterr().err
    # Switched to hub2: its batch applies, though the device's config never named hub2.
    hub_config = _hub(site, "hub2")
    assert main(["hub", "publish", str(_file(site, "tuesday.jsonl", 2)), "--config", str(hub_config)]) == 0
    until(lambda: ledger.setting("sync.batch_seq") == "3", what="batch 3, signed by hub2")
    assert ledger.holder("h-2") is not None

    # A batch signed by the retired key (its holder stole it, say): refused, and said why.
    _rogue(broker, dump(sign_batch("s1", 4, f"{HEADER}\n", key_id="hub", key=old)))
    until(lambda: _problem(ledger) == "batch 4 refused: signed by key 'hub', retired by batch 2", what="refused")
    # Nor can a batch of the trusted key bring the retired id back.
    back = KeyChanges(add={"hub": old_public})
    _rogue(broker, dump(sign_batch("s1", 4, f"{HEADER}\n", key_id="hub2", key=new, keys=back)))
    until(lambda: "batch 4 refused: keys: key 'hub' was retired by batch 2" in _problem(ledger), what="no return")
    assert ledger.setting("sync.batch_seq") == "3" and trusted_keys(ledger, config_keys) == {"hub2": new_public}

    # The trust is the ledger's: after a restart of gate sync, hub2's next batch applies.
    assert sync.stop() == 0
    sync = site.run("sync", config)
    assert main(["hub", "publish", str(_file(site, "wednesday.jsonl", 3)), "--config", str(hub_config)]) == 0
    until(lambda: ledger.setting("sync.batch_seq") == "4", what="batch 4 after the restart")
    assert _problem(ledger) == "" and ledger.holder("h-3") is not None
    assert sync.stop() == 0
    ledger.close()


def test_a_key_change_the_hub_cannot_make_is_refused_in_one_line(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    _key(site, capsys, "hub")
    hub_config = _hub(site, "hub")
    assert main(["hub", "keys", "add", "hub2", "not-a-key", "--config", str(hub_config)]) == 2
    assert "gate hub keys: keys: add.hub2: String should match pattern" in capsys.readouterr().err
