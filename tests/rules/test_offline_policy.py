"""The offline policy ([sync.offline]): how long a device has been cut off from the site enters the
decision as the lane's context, and the kinds the policy refuses by then get reason `offline`."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from gate.cache import Ledger
from gate.config import parse_config
from gate.decision import Ask
from gate.engine import Engine
from gate.reasons import Reason, Verdict
from gate.text import render
from tests.configs import config_text
from tests.display.kiosks import kiosk_records


def _engine(tmp_path: Path, **offline: float) -> tuple[Engine, Ledger]:
    sections = {"lanes": {"l1": {"zone": "main"}, "k1": {"zone": "main", "kiosk": True}},
                "ledger": {"path": str(tmp_path / "l.sqlite")}}  # fmt: skip
    if offline:
        sections["sync"] = {"offline": {"refuse": offline}}
    config = parse_config(config_text(sections))
    ledger = Ledger.open(tmp_path / "l.sqlite")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    ticket = {"type": "entitlement", "kind": "ticket", "id": "t-1", "version": 1, "day": today, "references": ["T1"]}
    ledger.import_lines([json.dumps(r) for r in [*kiosk_records(), ticket]], source="test")
    return Engine(ledger, config), ledger


def test_a_kiosk_cut_off_refuses_vouchers_at_once_by_default_and_admits_again_in_step(tmp_path: Path) -> None:
    engine, ledger = _engine(tmp_path)
    at, ask = dt.datetime.now(dt.UTC), Ask(performance="p-hamlet-0")
    assert engine.decide("GIFT-1", lane="k1", at=at, ask=ask).decision.verdict is Verdict.ADMIT
    engine.offline_since = time.time() - 5  # the link went down 5 s ago
    refused = engine.decide("GIFT-1", lane="k1", at=at, ask=ask).decision
    assert (refused.verdict, refused.reason, refused.params["kind"]) == (Verdict.DENY, Reason.OFFLINE, "voucher")
    visitor = render(refused, audience="visitor", language="en", tz=dt.UTC, now=at)
    assert visitor == "This lane cannot check this code right now — please see the desk"
    assert engine.decide("T1", lane="l1", at=at).decision.verdict is Verdict.ADMIT  # tickets: not by default
    engine.offline_since = None  # in step again
    assert engine.decide("GIFT-1", lane="k1", at=at, ask=ask).decision.verdict is Verdict.ADMIT
    ledger.close()


def test_single_use_tickets_are_refused_only_once_offline_longer_than_the_policy_says(tmp_path: Path) -> None:
    engine, ledger = _engine(tmp_path, ticket=600)
    at = dt.datetime.now(dt.UTC)
    engine.offline_since = time.time() - 300
    assert engine.decide("T1", lane="l1", at=at).decision.verdict is Verdict.ADMIT  # 5 min: admitted
    engine.offline_since = time.time() - 700
    refused = engine.decide("T1", lane="l1", at=at).decision
    assert (refused.reason, refused.params["minutes"]) == (Reason.OFFLINE, 11)
    staff = render(refused, audience="staff", language="de", tz=dt.UTC, now=at)
    assert staff == "Seit 11 Min. offline: Ticket (einmalig gültig) nach der Offline-Regel abgelehnt"
    assert engine.decide("T1", lane="l1", at=at, ask=Ask(direction="exit")).decision.verdict is Verdict.ADMIT
    ledger.close()
