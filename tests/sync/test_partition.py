"""Partitions, made with a TCP relay between a device and the broker: while cut off each device
decides on its own ledger; once the partition heals the hub records each double use once, every
device learns of it, both uses stay in every history, and two kiosks that made one voucher's
admission differently end with the same one."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger
from gate.config import load_config
from gate.decision import Ask
from gate.engine import Engine
from gate.hub.conflicts import mirror_path
from gate.hub.store import SqliteHubStore
from gate.reasons import Reason, Verdict
from gate.sync.conflicts import CONFLICTS, stored
from tests.daemon.conftest import ledger_lines
from tests.display.kiosks import kiosk_records
from tests.sync.conftest import Process, Site, until
from tests.sync.relay import Relay


@pytest.fixture
def relays(site: Site) -> Iterator[list[Relay]]:
    made: list[Relay] = []
    yield made
    for relay in made:
        relay.close()


def _venue(site: Site, records: list[dict[str, Any]]) -> Path:
    """The venue's export: imported on each device and into the hub's copy of the ledger."""
    path = site.dir / "venue.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    with Ledger.open(mirror_path(site.dir / "hub-hub.sqlite")) as mirror:
        mirror.import_file(path)
    return path


def _device(site: Site, name: str, venue: Path, *, port: int, lanes: dict[str, Any] | None = None,
            **sync: Any) -> tuple[Path, Ledger, Engine]:  # fmt: skip
    config = site.config(name, device=name, lanes=lanes, port=port, **sync)
    ledger = Ledger.open(site.dir / f"{name}.sqlite")
    ledger.import_file(venue)
    return config, ledger, Engine(ledger, load_config(config))


def _cut_off(engine: Engine, ledger: Ledger, sync: Process) -> None:
    """Wait until the device's sync says its link is down, then decide as its daemon would (the
    daemon reads the same state and puts the lanes under the offline policy)."""
    try:
        until(lambda: ledger.setting("sync.link") == "down", timeout=10, what="the link seen down")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{sync.log()[-3000:]}") from None
    engine.offline_since = dt.datetime.fromisoformat(ledger.setting("sync.since") or "").timestamp()


def _conflicts(ledger: Ledger) -> list[Any]:
    return stored(ledger.setting(CONFLICTS))


def _both_connected(*syncs: Process) -> None:
    until(lambda: all("connected to" in s.log() for s in syncs), what="every sync connected")


def test_two_partitioned_lanes_admit_one_ticket_and_the_hub_reports_the_double_use(
    site: Site, relays: list[Relay]
) -> None:
    venue = _venue(site, ledger_lines())
    relay = Relay(site.broker.port)
    relays.append(relay)
    hub = site.run("hub", site.config("hub"))
    a_config, a_ledger, a = _device(site, "d1", venue, port=site.broker.port)
    b_config, b_ledger, b = _device(site, "d2", venue, port=relay.port)
    syncs = [site.run("sync", a_config), site.run("sync", b_config)]
    _both_connected(hub, *syncs)

    relay.cut()  # d2's cable is out
    _cut_off(b, b_ledger, syncs[1])
    first = a.redeem("ONE", lane="l1", at=dt.datetime.now(dt.UTC))
    assert first.decision.verdict is Verdict.ADMIT
    until(lambda: SqliteHubStore(site.dir / "hub-hub.sqlite").count("d1") >= 1, what="d1's use at the hub")
    # d2 has heard nothing of it: a ticket is admitted and reconciled later (the default policy).
    second = b.redeem("ONE", lane="l1", at=dt.datetime.now(dt.UTC))
    assert second.decision.verdict is Verdict.ADMIT

    relay.restore()
    until(lambda: _conflicts(a_ledger) and _conflicts(b_ledger), timeout=20, what="both devices told of the conflict")
    for ledger in (a_ledger, b_ledger):
        [conflict] = _conflicts(ledger)
        assert conflict.entitlement_id == "t-one" and conflict.kind == "ticket"
        assert (conflict.first.device, conflict.first.redemption) == ("d1", first.redemption)
        assert (conflict.second.device, conflict.second.redemption) == ("d2", second.redemption)
        assert conflict.second.offline and not conflict.first.offline
    # Both uses stay in every history: the hub has both, and each device counts the other's.
    store = SqliteHubStore(site.dir / "hub-hub.sqlite")
    assert [t.redemption for t in store.taken("t-one")] == [first.redemption, second.redemption]
    assert len(store.conflicts()) == 1
    store.close()
    for engine in (a, b):
        assert engine.decide("ONE", lane="l1", at=dt.datetime.now(dt.UTC)).decision.reason is Reason.ALREADY_USED
    assert "CONFLICT entitlement=t-one" in hub.log()
    a_ledger.close()
    b_ledger.close()


def test_two_partitioned_kiosks_redeem_one_voucher_for_two_shows_and_end_with_the_same_admission(
    site: Site, relays: list[Relay]
) -> None:
    venue = _venue(site, kiosk_records())
    near, far = Relay(site.broker.port), Relay(site.broker.port)
    relays += [near, far]
    hub = site.run("hub", site.config("hub"))
    kiosk = {"k1": {"zone": "main", "kiosk": True}}
    admit_offline: dict[str, Any] = {"offline": {"refuse": {}}}  # this venue lets kiosks redeem while cut off
    one = _device(site, "k-one", venue, port=near.port, lanes=kiosk, **admit_offline)
    two = _device(site, "k-two", venue, port=far.port, lanes=kiosk, **admit_offline)
    syncs = [site.run("sync", one[0]), site.run("sync", two[0])]
    _both_connected(hub, *syncs)

    near.cut()
    far.cut()
    made = {}
    for (_, ledger, engine), show, sync in ((one, "p-hamlet-0", syncs[0]), (two, "p-tosca", syncs[1])):
        _cut_off(engine, ledger, sync)
        outcome = engine.redeem("GIFT-1", lane="k1", at=dt.datetime.now(dt.UTC), ask=Ask(performance=show))
        assert outcome.decision.verdict is Verdict.ADMIT and outcome.decision.admission is not None
        made[show] = outcome.decision.admission
    assert made["p-hamlet-0"].id == made["p-tosca"].id  # one admission id, two different records

    near.restore()
    far.restore()
    until(lambda: _conflicts(one[1]) and _conflicts(two[1]), timeout=20, what="both kiosks told of the conflict")
    kept = {
        ledger.entitlements([made["p-tosca"].id])[0].model_dump_json() for _, ledger, _ in (one, two)
    }
    assert len(kept) == 1  # the same record at both, whichever arrived first
    [conflict] = _conflicts(one[1])
    assert conflict.entitlement_id == "v-1" and conflict.kind == "voucher"
    assert {conflict.first.device, conflict.second.device} == {"k-one", "k-two"}
    assert "replaces the one of the same version" in (syncs[0].log() + syncs[1].log())
    for _, ledger, _ in (one, two):
        ledger.close()


def test_connected_but_hearing_nobody_is_offline_and_the_hubs_word_brings_it_back(site: Site) -> None:
    config = site.config("d1", device="d1", online_within_s=6)
    ledger = Ledger.open(site.dir / "d1.sqlite")
    sync = site.run("sync", config)
    until(lambda: "connected to" in sync.log(), what="connected")
    assert ledger.setting("sync.link") == "up"  # just connected: the site's news is on its way
    # Nobody else on the broker (the venue's uplink and every peer gone): offline, though connected.
    until(lambda: ledger.setting("sync.link") == "down", timeout=12, what="offline for want of a word")
    assert "no word from the hub or a peer for 6 s" in sync.log()
    assert "disconnected" not in sync.log()
    site.run("hub", site.config("hub"))  # the hub's head, live, every 5 s
    until(lambda: ledger.setting("sync.link") == "up", timeout=10, what="online again")
    ledger.close()
