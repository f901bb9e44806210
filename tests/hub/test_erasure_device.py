"""Erasure on a device, with its real ledger: the hub's batch deleting a holder and their entitlements
leaves no id or code of theirs in the journal, the uses, a peer's uses or a hold in progress, keeps every count,
and the erased ticket is still refused; an entitlement the back office keeps keeps its history;
a sync killed between the import and the erasure finishes it when it starts again."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger, erasure
from gate.config import load_config
from gate.decision import Ask
from gate.engine import Engine
from gate.reasons import Reason
from gate.sync.batches import apply_batch, finish_erasure, sign_batch
from gate.sync.payloads import Event
from tests.configs import config_text
from tests.display.kiosks import kiosk_records

HEADER = '{"type":"header","format":"gate-ledger","version":1}'
KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
ERASED = ("t-1", "t-2", "cm-1", "v-h", "v-h:admission", "T1", "T2", "CARD-1", "GIFT-H")


def _records() -> list[dict[str, Any]]:
    holder = {"type": "entitlement", "version": 1, "holder": "h-k"}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return [
        *kiosk_records(),
        {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500},
        {**holder, "kind": "ticket", "id": "t-1", "day": today, "references": ["T1"]},
        {**holder, "kind": "ticket", "id": "t-2", "day": today, "references": ["T2"]},
        {**holder, "kind": "voucher", "id": "v-h", "events": ["hamlet"], "references": ["GIFT-H"]},
    ]


def _device(tmp: Path) -> tuple[Path, Ledger, Engine]:
    config = tmp / "d1.toml"
    lanes = {"l1": {"zone": "main", "product": "entry"}, "k1": {"zone": "main", "kiosk": True}}
    config.write_text(config_text({"ledger": {"path": "d1.sqlite"}, "device": {"id": "d1"}, "lanes": lanes}))
    ledger = Ledger.open(tmp / "d1.sqlite")
    ledger.import_lines([json.dumps(r) for r in _records()], source="venue")
    return config, ledger, Engine(ledger, load_config(config))


def _erasing(seq: int) -> str:
    """The back office erases Anna (h-k): her and her entitlements, but her membership m-1 is kept."""
    deleted = [{"type": t, "id": i, "version": 2, "deleted": True}
               for t, i in (("entitlement", "t-1"), ("entitlement", "t-2"), ("entitlement", "cm-1"),
                            ("entitlement", "r-1"), ("entitlement", "v-h"), ("holder", "h-k"))]  # fmt: skip
    return "\n".join([HEADER, *(json.dumps(d) for d in deleted)]) + "\n"


def _named(text: str, *codes: str) -> list[str]:
    """The codes (as whole JSON or Python strings) that `text` names."""
    return [code for code in codes if f'"{code}"' in text or f"'{code}'" in text]


def _everything(path: Path) -> str:
    """Every row of the tables that say what the gate did, as text."""
    with sqlite3.connect(path) as db:
        tables = ("journal", "usage", "hold", "peer_use", "entitlement", "reference")
        return "\n".join(repr(row) for table in tables for row in db.execute(f"SELECT * FROM {table}"))


def test_a_holder_erased_leaves_no_id_or_code_and_every_count(tmp_path: Path) -> None:
    config, sync_ledger, _ = _device(tmp_path)
    lane_ledger = Ledger.open(tmp_path / "d1.sqlite")  # the lane daemon's own connection
    lane = Engine(lane_ledger, load_config(config))
    now = dt.datetime.now(dt.UTC)
    for code, at_lane, ask in (("T1", "l1", Ask()), ("CARD-1", "l1", Ask()), ("MEMBER-1", "l1", Ask()),
                               ("GIFT-H", "k1", Ask(performance="p-hamlet-0")), ("GIFT-H", "l1", Ask())):  # fmt: skip
        held = lane.admit(code, lane=at_lane, at=now, ask=ask)
        assert held.redemption is not None, code
        lane.commit(held.redemption, at=now)
    # A peer device spent one of her credits too: its row, as gate sync applies it (gate/cache/peers.py).
    use = {"entitlement_id": "cm-1", "at": now.isoformat(), "direction": "entry", "persons": 1, "credits": 1,
           "performance": None, "event": None, "benefit": None, "lane": "l9", "zone": "main"}  # fmt: skip
    peer = Event(seq=1, id="p1", at=now.timestamp(), type="redemption.committed", lane="l9", entitlement_id="cm-1",
                 redemption_id="p1", body={"uses": [use], "reference": "CARD-1", "entitlement_id": "cm-1"})  # fmt: skip
    assert sync_ledger.outbox().receive("d2", [peer], hold_s=60) == (1, 0)
    in_passage = lane.admit("T2", lane="l1", at=now)  # Anna is in the turnstile as the erasure comes
    assert in_passage.redemption is not None
    lane.decide("T1", lane="l1", at=now)
    uses_before = sync_ledger.stats()["usage"]
    assert _named(_everything(tmp_path / "d1.sqlite"), *ERASED) == list(ERASED)

    done = apply_batch(sync_ledger, "s1", sign_batch("s1", 1, _erasing(1), key_id="hub", key=KEY),
                       {"hub": PUBLIC.decode()})  # fmt: skip
    assert done.outcome == "applied"
    lane.commit(in_passage.redemption, at=dt.datetime.now(dt.UTC))  # she passes: her hold was in memory

    left = _everything(tmp_path / "d1.sqlite")
    assert _named(left, *ERASED) == []  # no id or code of hers in what the gate did
    assert "erased-" in left and _named(left, "m-1", "MEMBER-1") == ["m-1", "MEMBER-1"]  # kept: its history too
    assert sync_ledger.stats()["usage"] == uses_before == 6  # every use counted (the held one, now committed)
    with sqlite3.connect(tmp_path / "d1.sqlite") as db:  # the peer's use too, under her pseudonym
        assert db.execute("SELECT entitlement_id LIKE 'erased-%', credits FROM peer_use").fetchall() == [(1, 1)]
    # Her ticket, presented again, is still refused (deleted, its code finds nothing); her voucher's too.
    assert lane.decide("T1", lane="l1", at=dt.datetime.now(dt.UTC)).decision.reason is Reason.UNKNOWN_CODE
    assert lane.decide("GIFT-H", lane="l1", at=dt.datetime.now(dt.UTC)).decision.reason is Reason.UNKNOWN_CODE
    assert [use.entitlement_id for use in lane_ledger.activity("m-1")] == ["m-1"]
    said = [e.body for e in sync_ledger.journal(limit=1000) if e.type == erasure.ERASURE_EVENT]
    assert [(b["entitlements"], b["batch"]) for b in said] == [(6, 1)]  # t-1, t-2, cm-1, r-1, v-h, its admission
    lane_ledger.close()
    sync_ledger.close()


def test_an_erasure_cut_short_by_a_killed_sync_is_finished_at_its_start(tmp_path: Path) -> None:
    _, ledger, engine = _device(tmp_path)
    now = dt.datetime.now(dt.UTC)
    held = engine.admit("T1", lane="l1", at=now)
    assert held.redemption is not None
    engine.commit(held.redemption, at=now)
    lines = _erasing(1)
    plan = erasure.planned(ledger.path, lines, batch=1)
    assert plan is not None and set(plan.entitlements) == {"t-1", "t-2", "cm-1", "r-1", "v-h"}  # not m-1: kept
    # The import and the plan commit together; then the process dies before carrying it out.
    ledger.import_lines(lines.splitlines(), source="batch 1", settings={erasure.PENDING: plan.dump()})
    assert _named(_everything(tmp_path / "d1.sqlite"), "t-1") == ["t-1"]
    ledger.close()

    restarted = Ledger.open(tmp_path / "d1.sqlite")
    finish_erasure(restarted)  # what gate sync's downlink does as it starts
    assert _named(_everything(tmp_path / "d1.sqlite"), "t-1", "T1") == [] and restarted.setting(erasure.PENDING) is None
    finish_erasure(restarted)  # nothing left to do: nothing done twice
    assert len([e for e in restarted.journal() if e.type == erasure.ERASURE_EVENT]) == 1
    restarted.close()


def test_a_refused_batch_erases_nothing(tmp_path: Path) -> None:
    _, ledger, engine = _device(tmp_path)
    now = dt.datetime.now(dt.UTC)
    held = engine.admit("T1", lane="l1", at=now)
    assert held.redemption is not None
    engine.commit(held.redemption, at=now)
    bad = _erasing(1) + json.dumps({"type": "holder", "id": "h-9", "version": 1, "display_name": "06 12 34 56 78"})
    done = apply_batch(ledger, "s1", sign_batch("s1", 1, bad + "\n", key_id="hub", key=KEY), {"hub": PUBLIC.decode()})
    assert done.outcome == "refused" and "display_name" in done.problem
    assert ledger.setting(erasure.PENDING) is None and _named(_everything(tmp_path / "d1.sqlite"), "t-1") == ["t-1"]
    assert engine.decide("T1", lane="l1", at=now).decision.reason is Reason.ALREADY_USED  # as it was
    ledger.close()
