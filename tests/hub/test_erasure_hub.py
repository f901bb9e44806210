"""Erasure across the site, with real parts: Marie's ticket is used at a device; the back office erases
her (a file of tombstones through `gate hub publish`). The hub's events and the device's journal no
longer carry her entitlement's id or code, the reports still count her entry, the device still
refuses the ticket, the hub's log no longer holds her name (a new gate never learns it), and an
event about her that arrives late is pseudonymised as it is stored."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.config import load_config
from gate.engine import Engine
from gate.reasons import Reason
from tests.daemon.conftest import ledger_lines
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until

HEADER = '{"type":"header","format":"gate-ledger","version":1}'


def _named(text: str, *codes: str) -> list[str]:
    return [code for code in codes if f'"{code}"' in text or f"'{code}'" in text]


def _hub_events(site: Site) -> str:
    with sqlite3.connect(site.dir / "hub-hub.sqlite") as db:
        return "\n".join(repr(row) for row in db.execute("SELECT entitlement_id, body FROM event"))


def _count(site: Site, query: str) -> int:
    with sqlite3.connect(site.dir / "hub-hub.sqlite") as db:
        return int(db.execute(query).fetchone()[0])


def _journal(path: Path) -> str:
    with sqlite3.connect(path) as db:
        tables = ("journal", "usage", "peer_use", "hold")
        return "\n".join(repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}"))


def test_an_erased_holder_leaves_the_hub_and_the_devices_with_counts_only(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(site.dir / "keys")]) == 0
    public = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["public_key"]
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    venue = site.dir / "venue.jsonl"
    venue.write_text("\n".join(json.dumps(r) for r in ledger_lines()) + "\n")  # Marie Dupont (h1), ticket ONE
    assert main(["hub", "publish", str(venue), "--config", str(hub_config)]) == 0
    site.run("hub", hub_config)
    config = site.config("d1", device="d1", ledger_keys={"hub": public})
    ledger = Ledger.open(site.dir / "d1.sqlite")
    site.run("sync", config)
    until(lambda: ledger.setting("sync.batch_seq") == "1", what="d1 has the venue")

    engine = Engine(ledger, load_config(config))
    now = dt.datetime.now(dt.UTC)
    used = engine.admit("ONE", lane="l1", at=now)
    assert used.redemption is not None
    engine.commit(used.redemption, at=now)
    refused = engine.admit("ONE", lane="l1", at=dt.datetime.now(dt.UTC))  # shown again: refused, journaled
    assert refused.decision.reason is Reason.ALREADY_USED
    until(lambda: _count(site, "SELECT count(*) FROM event") == 3 and ledger.outbox().depth() == 0,
          what="the hub holds d1's three rows")  # fmt: skip
    assert _named(_hub_events(site), "t-one", "ONE") == ["t-one", "ONE"]

    erasing = site.dir / "erase-h1.jsonl"
    gone = [{"type": "entitlement", "id": "t-one", "version": 2, "deleted": True},
            {"type": "holder", "id": "h1", "version": 2, "deleted": True}]
    erasing.write_text("\n".join([HEADER, *(json.dumps(line) for line in gone)]) + "\n")
    capsys.readouterr()
    assert main(["hub", "publish", str(erasing), "--config", str(hub_config)]) == 0
    said = capsys.readouterr().out
    assert "erased: 1 entitlement(s); 3 event(s) pseudonymised; 1 earlier batch(es) cut and signed again" in said

    # The hub: no id or code of hers in its events; the log no longer holds her name; the entry counts.
    assert _named(_hub_events(site), "t-one", "ONE") == [] and "erased-" in _hub_events(site)
    with sqlite3.connect(site.dir / "hub-hub.sqlite") as db:
        log = "\n".join(payload for (payload,) in db.execute("SELECT payload FROM batch ORDER BY seq"))
    assert "Marie" not in log and log.count('\\"deleted\\"') == 2  # the tombstones stay
    assert main(["hub", "report", "hours", "--json", "--config", str(hub_config)]) == 0
    assert json.loads(capsys.readouterr().out)["totals"]["entries"] == 1

    # The device: the batch applied, its journal rewritten, the ticket still refused.
    until(lambda: ledger.setting("sync.batch_seq") == "2", what="d1 applied the erasure")
    until(lambda: not _named(_journal(site.dir / "d1.sqlite"), "t-one", "ONE"), what="d1's journal rewritten")
    assert engine.decide("ONE", lane="l1", at=dt.datetime.now(dt.UTC)).decision.reason is Reason.UNKNOWN_CODE
    assert ledger.holder("h1") is None

    # A new gate catches up from nothing and never holds her name.
    config2 = site.config("d2", device="d2", ledger_keys={"hub": public})
    ledger2 = Ledger.open(site.dir / "d2.sqlite")
    site.run("sync", config2)
    until(lambda: ledger2.setting("sync.batch_seq") == "2", what="d2 caught up")
    assert ledger2.holder("h1") is None and ledger2.find("ONE") == []
    ledger2.close()
    files = [p for p in site.dir.iterdir() if p.name.startswith("d2.sqlite")]
    assert files and not any(b"Marie" in p.read_bytes() for p in files)

    # An event about her that comes late (a device that was cut off): pseudonymised as it is stored.
    body = {"reference": "one", "entitlement_id": "t-one", "kind": "ticket", "lane": "l1"}
    late: dict[str, Any] = {"seq": 1, "id": "late-1", "at": now.timestamp(), "type": "refusal", "lane": "l1",
                            "entitlement_id": "t-one", "reason": "already_used", "body": body}  # fmt: skip
    payload = {"v": 1, "device": "d9", "incarnation": "0" * 16, "floor": 0, "events": [late]}
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "gate/v1/s1/devices/d9/events", "-q", "1", "-s"],
                   input=json.dumps(payload).encode(), check=True, timeout=10)  # fmt: skip
    until(lambda: _count(site, "SELECT count(*) FROM event WHERE device = 'd9'") == 1, what="the late event stored")
    assert _named(_hub_events(site), "t-one", "ONE", "one") == []
    ledger.close()


def test_the_admission_a_kiosk_made_from_an_erased_voucher_leaves_the_hub_s_log_for_good(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    from gate.hub.admissions import add_to_log  # noqa: PLC0415
    from gate.hub.conflicts import mirror_path  # noqa: PLC0415
    from gate.hub.store import SqliteHubStore  # noqa: PLC0415
    from gate.records import Ticket  # noqa: PLC0415
    from gate.sync.batches import Batch  # noqa: PLC0415
    from tests.configs import config_text  # noqa: PLC0415
    from tests.display.kiosks import kiosk_records  # noqa: PLC0415

    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(tmp_path / "keys")]) == 0
    config = tmp_path / "hub.toml"
    config.write_text(config_text({"hub": {"store": "hub.sqlite", "ledger_key_file": "keys/hub.key"}}))
    voucher = {"type": "entitlement", "kind": "voucher", "id": "v-h", "version": 1, "holder": "h-k",
               "events": ["hamlet"], "references": ["GIFT-H"]}  # fmt: skip
    venue = tmp_path / "venue.jsonl"
    venue.write_text("\n".join(json.dumps(r) for r in [*kiosk_records(), voucher]) + "\n")
    assert main(["hub", "publish", str(venue), "--config", str(config)]) == 0
    # A kiosk redeemed Anna's voucher; the running hub put the admission in its log (as it does).
    admission = Ticket.model_validate({"id": "v-h:admission", "version": 1, "holder": "h-k", "performance":
                                       "p-hamlet-0", "references": ["GIFT-H"], "from_voucher": "v-h"})  # fmt: skip
    key = serialization.load_pem_private_key((tmp_path / "keys" / "hub.key").read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    store = SqliteHubStore(tmp_path / "hub.sqlite")

    def log_it() -> Batch | None:
        return add_to_log(store, mirror_path(tmp_path / "hub.sqlite"), [admission], site="site", key_id="hub", key=key)

    assert log_it() is not None

    erasing = tmp_path / "erase-h-k.jsonl"
    gone = [{"type": "holder", "id": "h-k", "version": 2, "deleted": True},
            *({"type": "entitlement", "id": e, "version": 2, "deleted": True} for e in ("v-h", "cm-1", "m-1", "r-1"))]
    erasing.write_text("\n".join([HEADER, *(json.dumps(line) for line in gone)]) + "\n")
    capsys.readouterr()
    assert main(["hub", "publish", str(erasing), "--config", str(config)]) == 0
    assert "kept:" not in capsys.readouterr().out  # the admission is the hub's own: erased with the voucher
    with sqlite3.connect(tmp_path / "hub.sqlite") as db:
        log = "\n".join(payload for (payload,) in db.execute("SELECT payload FROM batch ORDER BY seq"))
    assert "Anna" not in log and "GIFT-H" not in log and log.count("v-h:admission") == 1  # its tombstone only
    with sqlite3.connect(mirror_path(tmp_path / "hub.sqlite")) as copy:
        assert copy.execute("SELECT count(*) FROM entitlement WHERE id = 'v-h:admission'").fetchone() == (0,)
    # A kiosk that was cut off sends the same admission late: it never enters the log again.
    assert log_it() is None
    store.close()
