"""A kiosk's admission reaches the hub's log: the venue's file published by the hub reaches a kiosk
device, a voucher is redeemed there, and a lane device that joins later, with nothing but the hub's
log, admits the voucher's code; the hub's copy of the ledger holds the admission (what "scanned
against sold" counts)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.config import load_config
from gate.decision import Ask
from gate.engine import Engine
from gate.hub.conflicts import mirror_path
from gate.reasons import Verdict
from tests.display.kiosks import kiosk_records
from tests.sync.conftest import Site, until


def _applied(ledger: Ledger, seq: int) -> bool:
    return int(ledger.setting("sync.batch_seq") or 0) >= seq


def test_a_kiosks_admission_enters_the_hubs_log_and_a_later_lane_admits_its_code(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(site.dir / "keys")]) == 0
    public: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"})
    venue = site.dir / "venue.jsonl"
    venue.write_text("\n".join(json.dumps(r) for r in kiosk_records()) + "\n")
    assert main(["hub", "publish", str(venue), "--config", str(hub_config)]) == 0  # batch 1
    hub = site.run("hub", hub_config)

    keys = {"hub": public["public_key"]}
    k_config = site.config("kiosk", device="kiosk", lanes={"k1": {"zone": "main", "kiosk": True}}, ledger_keys=keys)
    k_ledger = Ledger.open(site.dir / "kiosk.sqlite")
    site.run("sync", k_config)
    until(lambda: _applied(k_ledger, 1), what="the kiosk has the venue's records from the hub")
    kiosk = Engine(k_ledger, load_config(k_config))
    redeemed = kiosk.redeem("GIFT-1", lane="k1", at=dt.datetime.now(dt.UTC), ask=Ask(performance="p-hamlet-0"))
    admission = redeemed.decision.admission
    assert redeemed.decision.verdict is Verdict.ADMIT and admission is not None
    until(lambda: "kiosk admission(s) added to the log" in hub.log(), what="the hub logs the admission")

    # A lane device that joins now has no peer's row of it: only the hub's log.
    l_config = site.config("late", device="late", ledger_keys=keys)
    l_ledger = Ledger.open(site.dir / "late.sqlite")
    site.run("sync", l_config)
    until(lambda: _applied(l_ledger, 2), what="the late device has the log's admission")
    lane = Engine(l_ledger, load_config(l_config))
    decision = lane.decide("GIFT-1", lane="l1", at=dt.datetime.now(dt.UTC)).decision
    assert decision.verdict is Verdict.ADMIT and decision.entitlement_id == admission.id
    with Ledger.open(mirror_path(site.dir / "hub-hub.sqlite")) as copy:
        [held] = copy.entitlements([admission.id])
    assert held.model_dump() == admission.model_dump() | {"from_voucher": "v-1"}
    # Sold, once: the admission in the copy is the kiosk's, not another ticket.
    day = next(r["starts_at"] for r in kiosk_records() if r.get("id") == "p-hamlet-0")[:10]
    capsys.readouterr()
    assert main(["hub", "report", "attendance", "--day", day, "--json", "--config", str(hub_config)]) == 0
    [row] = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["performance"] == "p-hamlet-0"]
    assert (row["tickets"], row["kiosk"], row["sold"]) == (0, 1, 1)
    k_ledger.close()
    l_ledger.close()
