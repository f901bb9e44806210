"""`gate sync` and `gate hub` with `[metrics]`, on a real Mosquitto: each scraped over HTTP as Prometheus
would, after a double use made while the devices were apart and a batch published live."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from gate.cache import Ledger
from tests.metrics.scrape import scrape, scraped, value
from tests.sync.broker import free_port
from tests.sync.conftest import Site, until
from tests.sync.hubs import engine, hub_key, publish, ticket, use


def _with_metrics(config: Path, **listen: int) -> Path:
    lines = "".join(f'{key} = "127.0.0.1:{port}"\n' for key, port in listen.items())
    config.write_text(config.read_text() + "\n[metrics]\n" + lines)
    return config


def test_sync_and_hub_are_scraped(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    public = hub_key(site, capsys)
    hub_port, sync_port = free_port(), free_port()
    hub_config = _with_metrics(site.config("hub", hub={"ledger_key_file": "keys/hub.key"}), hub=hub_port)
    publish(site, hub_config, "venue.jsonl", ticket("AAA"))  # batch 1, before the hub runs
    devices = {}
    for name in ("d1", "d2"):
        config = site.config(name, device=name, ledger_keys={"hub": public})
        ledger = Ledger.open(site.dir / f"{name}.sqlite")
        ledger.import_file(site.dir / "venue.jsonl")
        use(engine(config, ledger), "AAA")  # each device admits it while apart: a double use
        devices[name] = config, ledger
    _with_metrics(devices["d1"][0], sync=sync_port)
    site.run("hub", hub_config)
    syncs = {name: site.run("sync", config) for name, (config, _) in devices.items()}

    # The hub: every event once, the double use found, both devices online.
    until(lambda: value(scraped(hub_port), "gate_hub_conflicts_found_total") == 1, what="the double use found")
    until(lambda: value(scraped(hub_port), "gate_hub_devices_online") == 2, what="both online")
    text, hub = scrape(hub_port)
    assert value(hub, "gate_hub_events_stored_total") == 4  # a hold and a commit each
    assert value(hub, "gate_hub_devices_known") == 2
    assert value(hub, "gate_hub_device_online", device="d1") == 1
    assert value(hub, "gate_hub_batch_published_seq") == 1 and value(hub, "gate_hub_batches_published_total") == 0
    assert value(hub, "gate_hub_link_up") == 1

    # A batch published while the hub runs: sent, and applied at the device.
    publish(site, hub_config, "more.jsonl", ticket("BBB"))
    until(lambda: value(scraped(sync_port), "gate_sync_batch_applied") == 2, what="batch 2 applied at d1")
    assert value(scrape(hub_port)[1], "gate_hub_batches_published_total") == 1
    until(lambda: value(scrape(sync_port)[1], "gate_sync_conflicts_known") == 1, what="d1 knows the conflict")
    sync_text, device = scrape(sync_port)
    assert value(device, "gate_sync_batch_head") == 2 and value(device, "gate_sync_batches_behind") == 0
    assert value(device, "gate_sync_outbox_rows") == 0 and value(device, "gate_sync_confirmed_seq") == 2
    assert value(device, "gate_sync_link_up") == 1 and value(device, "gate_sync_online") == 1
    assert value(device, "gate_sync_ledger_problem") == 0
    free = value(device, "gate_storage_free_bytes")
    assert free is not None and free > 0
    for served in (text, sync_text):  # ids and codes of tickets never: devices and counts only
        assert "t-aaa" not in served and "AAA" not in served

    # d2 is lost (its will says offline): the hub's figures say so.
    syncs["d2"].stop(signal.SIGKILL)
    until(lambda: value(scrape(hub_port)[1], "gate_hub_device_online", device="d2") == 0, what="d2 offline")
    assert value(scrape(hub_port)[1], "gate_hub_devices_online") == 1
    assert syncs["d1"].stop() == 0
    for _, ledger in devices.values():
        ledger.close()
