"""The device's health message says what its lane daemon says: each lane's mode, its readers, its
clock's trust, and the ledger's free disk; and, with no daemon answering, that the lanes' modes are
unknown rather than a guess. Real `gate run` (mock pins, a pty scanner), `gate sync` and Mosquitto."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from gate.sync.payloads import Health
from tests.daemon.conftest import Start, Venue, wait_ready
from tests.sync.broker import Broker
from tests.sync.conftest import Site, until

HEALTH = "gate/v1/s1/devices/d1/health"


def _health(broker: Broker) -> dict[str, Any]:
    """The retained health message, as the hub or an operator reads it."""
    out = subprocess.run(["mosquitto_sub", "-p", str(broker.port), "-t", HEALTH, "-C", "1", "-W", "5"],
                         capture_output=True, check=False, timeout=10).stdout  # fmt: skip
    return json.loads(out) if out else {}


def test_the_health_message_carries_the_lanes_readers_clock_and_storage(
    site: Site, broker: Broker, venue: Venue, start_daemon: Start
) -> None:
    venue.write_config(device={"id": "d1"}, sync={"site": "s1", "port": broker.port, "reconnect_max_s": 1})
    daemon = start_daemon()
    wait_ready(daemon)
    assert venue.ask({"op": "mode", "mode": "locked", "reason": "cleaning"})["ok"]
    sync = site.run("sync", venue.config)
    until(lambda: "connected to" in sync.log(), what="gate sync connected")
    health = until(lambda: _health(broker), what="the health message")
    checked = Health.model_validate(health)  # as the hub parses it
    assert checked.v == 2 and checked.lanes == {"l1": "locked"}
    assert checked.readers and all(checked.readers.values())  # the pty scanner, connected
    assert isinstance(checked.clock_trusted, bool) and checked.storage_fault is None
    assert checked.storage_free is not None and checked.storage_free > 0

    # No daemon answering: the lanes' modes are unknown, not the last ones seen.
    assert daemon.stop() == 0 and sync.stop() == 0
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", HEALTH, "-r", "-n"], check=True, timeout=10)
    sync = site.run("sync", venue.config)
    again = until(lambda: _health(broker), what="the health message again")
    assert again["lanes"] == {"l1": "unknown"} and again["readers"] == {} and again["clock_trusted"] is None
    assert sync.stop() == 0
