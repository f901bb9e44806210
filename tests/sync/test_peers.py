"""Devices in step, with real parts: two devices, each with its own ledger and its own `gate sync`,
on Debian's Mosquitto. A single-entry ticket being used at a lane of one device is refused at
a lane of the other, used there is refused there, released there is admitted again; a peer's
row that cannot be read changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
from pathlib import Path

from gate.cache import Ledger
from gate.config import load_config
from gate.decision import Ask
from gate.engine import Engine
from gate.reasons import Reason, Verdict
from tests.daemon.conftest import ledger_lines
from tests.display.kiosks import kiosk_records
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until


def _device(site: Site, name: str) -> tuple[Path, Ledger, Engine]:
    config, ledger = site.device(name)
    lines = site.dir / "venue.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in ledger_lines()) + "\n")  # the venue's export, on both
    ledger.import_file(lines)
    return config, ledger, Engine(ledger, load_config(config))


def _reason(engine: Engine) -> Reason:
    return engine.decide("ONE", lane="l1", at=dt.datetime.now(dt.UTC)).decision.reason


def test_a_ticket_used_at_one_device_is_refused_at_another_and_a_release_gives_it_back(site: Site) -> None:
    a_config, a_ledger, a = _device(site, "d1")
    b_config, b_ledger, b = _device(site, "d2")
    sync_a, sync_b = site.run("sync", a_config), site.run("sync", b_config)
    until(lambda: "connected to" in sync_a.log() and "connected to" in sync_b.log(), what="both syncs connected")
    assert _reason(b) is Reason.OK

    # Being used at d1 (held: the visitor is in the turnstile): refused at d2 as in progress.
    now = dt.datetime.now(dt.UTC)
    held = a.admit("ONE", lane="l1", at=now)
    assert held.decision.verdict is Verdict.ADMIT and held.redemption is not None
    until(lambda: _reason(b) is not Reason.OK, timeout=5, what="d2 learns of d1's hold")
    assert b.decide("ONE", lane="l1", at=dt.datetime.now(dt.UTC)).decision.verdict is Verdict.DENY
    # Nobody went through at d1: released, and d2 admits the ticket again.
    a.release(held.redemption, at=dt.datetime.now(dt.UTC), why="nobody passed")
    until(lambda: _reason(b) is Reason.OK, timeout=5, what="d2 learns of the release")

    # Used at d2 this time (committed): refused at d1, for good.
    used = b.admit("ONE", lane="l1", at=dt.datetime.now(dt.UTC))
    assert used.redemption is not None
    b.commit(used.redemption, at=dt.datetime.now(dt.UTC))
    until(lambda: _reason(a) is Reason.ALREADY_USED, timeout=5, what="d1 learns of d2's commit")
    # A peer's rows never enter this device's own journal, so never its outbox.
    assert {e.lane for e in a_ledger.journal()} == {"l1"} and len(a_ledger.journal()) == 2  # held, released
    assert sync_a.stop() == 0 and sync_b.stop() == 0
    a_ledger.close()
    b_ledger.close()


def test_a_peer_s_row_that_cannot_be_read_changes_nothing(site: Site, broker: Broker) -> None:
    config, ledger, engine = _device(site, "d2")
    sync = site.run("sync", config)
    until(lambda: "connected to" in sync.log(), what="sync connected")
    held = {"seq": 1, "id": "r1", "at": dt.datetime.now(dt.UTC).timestamp(), "type": "redemption.held",
            "redemption_id": "r1", "body": {"uses": [{"entitlement_id": "t-one", "at": "not a time"}]}}  # fmt: skip
    batch = {"v": 1, "device": "d9", "incarnation": "0" * 16, "floor": 0, "events": [held]}
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", "gate/v1/s1/devices/d9/events", "-q", "1", "-s"],
                   input=json.dumps(batch).encode(), check=True, timeout=10)  # fmt: skip
    until(lambda: "row(s) of d9 dropped" in sync.log(), what="the bad row refused")
    assert _reason(engine) is Reason.OK  # nothing counted from it
    assert sync.stop() == 0
    ledger.close()


def test_a_voucher_redeemed_at_a_kiosk_device_opens_the_lanes_of_another(site: Site) -> None:
    records = site.dir / "kiosk-venue.jsonl"
    records.write_text("\n".join(json.dumps(r) for r in kiosk_records()) + "\n")
    k_config, k_ledger = site.device("kiosk", lanes={"k1": {"zone": "main", "kiosk": True}})
    l_config, l_ledger = site.device("lane")
    for ledger in (k_ledger, l_ledger):
        ledger.import_file(records)
    kiosk, lane = Engine(k_ledger, load_config(k_config)), Engine(l_ledger, load_config(l_config))
    syncs = [site.run("sync", k_config), site.run("sync", l_config)]
    until(lambda: all("connected to" in s.log() for s in syncs), what="both syncs connected")
    before = lane.decide("GIFT-1", lane="l1", at=dt.datetime.now(dt.UTC)).decision
    assert before.verdict is not Verdict.ADMIT  # a voucher opens no lane before its redemption

    held = kiosk.admit("GIFT-1", lane="k1", at=dt.datetime.now(dt.UTC), ask=Ask(performance="p-hamlet-0"))
    assert held.redemption is not None and held.decision.admission is not None
    kiosk.commit(held.redemption, at=dt.datetime.now(dt.UTC))  # the kiosk user confirmed

    def admitted() -> bool:
        return lane.decide("GIFT-1", lane="l1", at=dt.datetime.now(dt.UTC)).decision.verdict is Verdict.ADMIT

    until(admitted, timeout=5, what="the lane device admits the voucher's code")
    decision = lane.decide("GIFT-1", lane="l1", at=dt.datetime.now(dt.UTC)).decision
    assert decision.entitlement_id == held.decision.admission.id  # the admission, created from the kiosk's row
    for sync in syncs:
        assert sync.stop() == 0
    k_ledger.close()
    l_ledger.close()


def test_a_peer_s_hold_stops_counting_when_its_will_says_it_went_offline(site: Site) -> None:
    a_config, a_ledger, a = _device(site, "d1")
    b_config, b_ledger, b = _device(site, "d2")
    sync_a, sync_b = site.run("sync", a_config), site.run("sync", b_config)
    until(lambda: "connected to" in sync_a.log() and "connected to" in sync_b.log(), what="both syncs connected")
    held = a.admit("ONE", lane="l1", at=dt.datetime.now(dt.UTC))
    assert held.redemption is not None
    until(lambda: _reason(b) is not Reason.OK, timeout=5, what="d2 learns of d1's hold")
    assert sync_a.stop(signal.SIGKILL) == -signal.SIGKILL  # d1's link dies: the broker sends its will
    until(lambda: _reason(b) is Reason.OK, timeout=10, what="d1's hold no longer counts at d2")
    assert "peer d1 offline" in sync_b.log()
    a_ledger.close()
    b_ledger.close()


def test_the_occupancy_counter_is_the_sites_a_visitor_in_at_one_device_and_out_at_another(site: Site) -> None:
    a_config, a_ledger, a = _device(site, "d1")
    b_config, b_ledger, b = _device(site, "d2")
    syncs = [site.run("sync", a_config), site.run("sync", b_config)]
    until(lambda: all("connected to" in s.log() for s in syncs), what="both syncs connected")
    assert a.redeem("ONE", lane="l1", at=dt.datetime.now(dt.UTC)).decision.verdict is Verdict.ADMIT
    assert a_ledger.inside() == 1
    until(lambda: b_ledger.inside() == 1, timeout=5, what="d2 counts d1's entry")
    out = b.redeem("ONE", lane="l1", at=dt.datetime.now(dt.UTC), ask=Ask(direction="exit"))
    assert out.decision.verdict is Verdict.ADMIT
    assert b_ledger.inside() == 0  # the visitor left through d2: nobody inside, here
    until(lambda: a_ledger.inside() == 0, timeout=5, what="d1 counts d2's exit")
    for sync in syncs:
        assert sync.stop() == 0
    a_ledger.close()
    b_ledger.close()
