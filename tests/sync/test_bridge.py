"""A venue broker bridged to a central broker, with real parts: two Debian Mosquitto processes run
the bridge configuration and the central ACL of docs/scale.md (read from the page), the venue's
uplink is a TCP relay the test cuts. The venue's devices stay in step through their own broker
while it is cut; their events reach the hub once each after it is back, through a venue broker
killed with -9 meanwhile (the devices' resends and the hub's marks, not the bridge's queue);
batches published centrally reach the venue, live and by catch-up through the bridge."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.cache import Ledger
from gate.engine import Engine
from gate.reasons import Reason
from tests.sync.broker import Broker
from tests.sync.conftest import ROOT, Process, Site, until
from tests.sync.guarded import broker_pki, documented_acl, secret
from tests.sync.hubs import engine, hub_has, hub_key, publish, reason, ticket, use
from tests.sync.relay import Relay

PASSWORDS = {"hub": "hub-secret", "venue-s1": "bridge-secret", "d1": "d1-secret", "d2": "d2-secret"}


def _documented(marker: str, changes: dict[str, str]) -> str:
    """The first block after `marker` in docs/scale.md, with `changes` made (each must be there:
    a page that no longer says what the test replaces fails here, not later)."""
    text = (ROOT / "docs" / "scale.md").read_text()
    block = text.split(marker, 1)[1].split("```\n", 2)[1]
    for old, new in changes.items():
        assert old in block, f"docs/scale.md, the block after {marker}: no {old!r}"
        block = block.replace(old, new)
    return block


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[Site, Broker, Relay]]:
    """The central broker (TLS, passwords, the central ACL) as the site's, the uplink relay to it,
    and the venue broker (the lanes' ACL of docs/mqtt.md) bridged through the relay."""
    pki = tmp_path / "pki"
    pki.mkdir()
    tls = broker_pki(pki)
    central_acl = _documented("`/etc/mosquitto/central.acl`", {"louvre": "s1"})
    central = Broker(users={k: PASSWORDS[k] for k in ("hub", "venue-s1")}, acl=central_acl, tls=tls)
    central.start()
    uplink = Relay(central.port)
    bridge = _documented("`/etc/mosquitto/conf.d/uplink.conf`", {
        "louvre": "s1", "mqtt.example.net:8883": f"127.0.0.1:{uplink.port}", "CHANGE-ME": PASSWORDS["venue-s1"],
        "/etc/mosquitto/ca/central-ca.crt": "{dir}/ca.crt",
        "restart_timeout 2 60": "restart_timeout 1",  # the test's uplink comes back at once: so does the bridge
    })  # fmt: skip
    box = Broker(users={k: PASSWORDS[k] for k in ("d1", "d2")}, acl=documented_acl(), bridge=bridge, files=[tls[0]])
    box.start()
    (tmp_path / "ca.crt").write_bytes(tls[0].read_bytes())
    site = Site(tmp_path, central)
    try:
        yield site, box, uplink
    finally:
        site.kill_all()
        uplink.close()
        box.close()
        central.close()


def _rows(site: Site, device: str) -> list[tuple[int, str]]:
    with sqlite3.connect(site.dir / "hub-hub.sqlite") as db:
        return list(db.execute("SELECT seq, id FROM event WHERE device = ? ORDER BY seq", (device,)))


def _journal(ledger: Ledger) -> list[tuple[int, str]]:
    return [(e.seq, e.id) for e in ledger.journal(limit=10_000)]


def _depth(ledger: Ledger) -> int:
    return ledger.outbox().depth()


def _restart(box: Broker, syncs: list[Process], *, lost: bool) -> None:
    """The venue broker killed with -9 and started again (its saved state `lost` or not); back
    once both devices have connected to it again."""
    before = [s.log().count("connected to") for s in syncs]
    box.kill()
    if lost:
        (box.data / "mosquitto.db").unlink()
    box.start()
    until(lambda: all(s.log().count("connected to") > n for s, n in zip(syncs, before, strict=True)),
          what="both devices back on the venue broker")  # fmt: skip


def _refused(lane: Engine, code: str) -> bool:
    return reason(lane, code) is Reason.ALREADY_USED


def test_a_venue_stays_in_step_with_its_uplink_cut_and_every_event_reaches_the_hub_once(
    venue: tuple[Site, Broker, Relay], capsys: pytest.CaptureFixture[str]
) -> None:
    site, box, uplink = venue
    public = hub_key(site, capsys)
    hub_config = site.config("hub", hub={"ledger_key_file": "keys/hub.key"}, tls={"ca_file": "ca.crt"},
                             username="hub", password_file=secret(site, "hub", PASSWORDS["hub"]))  # fmt: skip
    publish(site, hub_config, "monday.jsonl", *(ticket(f"T{n}") for n in range(1, 7)))
    hub = site.run("hub", hub_config)
    devices: dict[str, tuple[Ledger, Engine]] = {}
    syncs: list[Process] = []
    for name in ("d1", "d2"):
        config = site.config(name, device=name, ledger_keys={"hub": public}, port=box.port, username=name,
                             password_file=secret(site, name, PASSWORDS[name]))  # fmt: skip
        ledger = Ledger.open(site.dir / f"{name}.sqlite")
        devices[name] = ledger, engine(config, ledger)
        syncs.append(site.run("sync", config))
    (l1, one), (l2, two) = devices["d1"], devices["d2"]
    # The hub's batch 1 reaches the venue's devices by catch-up, request and response through the bridge.
    until(lambda: l1.setting("sync.batch_seq") == "1" and l2.setting("sync.batch_seq") == "1",
          what="both devices at batch 1, through the bridge")  # fmt: skip
    use(one, "T1")
    until(lambda: hub_has(site, "d1") == 1 and _depth(l1) == 0, what="T1's use at the hub, confirmed")

    # The uplink is cut: the venue keeps deciding as one venue, through its own broker.
    uplink.cut()
    use(one, "T2")
    until(lambda: _refused(two, "T2"), timeout=5, what="d2 refuses T2, used at d1 with the uplink cut")
    use(two, "T3")
    until(lambda: _refused(one, "T3"), timeout=5, what="d1 refuses T3, used at d2")
    publish(site, hub_config, "tuesday.jsonl", ticket("T7"))  # the hub's batch 2, published centrally meanwhile
    time.sleep(3)  # past [sync] confirm_timeout_s: sent again, still unconfirmed
    assert (hub_has(site, "d1"), hub_has(site, "d2")) == (1, 0)
    assert _depth(l1) > 0 and _depth(l2) > 0  # nobody let go of what the hub has not confirmed

    uplink.restore()
    until(lambda: hub_has(site, "d1") == 2 and hub_has(site, "d2") == 1, what="the cut's uses at the hub")
    until(lambda: _depth(l1) == 0 and _depth(l2) == 0, what="the hub's marks back across the bridge")
    until(lambda: l1.setting("sync.batch_seq") == "2" and l2.setting("sync.batch_seq") == "2",
          what="batch 2 at the venue")  # fmt: skip
    assert reason(one, "T7") is Reason.OK and reason(two, "T7") is Reason.OK

    # Cut again, and the venue box dies (kill -9) twice with the devices' new events queued for its bridge:
    # once restarting on the state it saved (its queue may come back: what comes twice counts once), once
    # with that state lost too (a new box, a dead card: the queue is gone for certain).
    for n, (first, second, lost) in enumerate((("T4", "T5", False), ("T6", "T7", True)), start=3):
        uplink.cut()
        use(one, first)
        use(two, second)

        def in_step(a: str = first, b: str = second) -> bool:
            return _refused(two, a) and _refused(one, b)

        def at_hub(n: int = n) -> bool:
            return hub_has(site, "d1") == n and hub_has(site, "d2") == n - 1

        until(in_step, timeout=5, what="in step while cut")
        time.sleep(1.2)  # past the box's autosave (1 s): its queue for the bridge is on disk
        _restart(box, syncs, lost=lost)
        assert _refused(two, first) and _refused(one, second)
        uplink.restore()
        until(at_hub, what=f"the uses of cut {n - 1} at the hub")
        until(lambda: _depth(l1) == 0 and _depth(l2) == 0, what="confirmed after the box's restart")
    # Every row of each device's journal at the hub once, in its order, whatever came twice.
    assert _rows(site, "d1") == _journal(l1) and _rows(site, "d2") == _journal(l2)
    for sync in syncs:
        assert sync.stop() == 0
    assert hub.stop() == 0
    assert "Traceback" not in "".join(p.log() for p in site.processes)
    for ledger, _ in devices.values():
        ledger.close()


def test_the_bridge_state_is_told_at_the_central_broker(venue: tuple[Site, Broker, Relay]) -> None:
    """Mosquitto's own notification (the bridge's will): the operator sees which venue's uplink is down."""
    site, _, uplink = venue

    def state() -> str:
        done = subprocess.run(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(site.broker.port), "--cafile", str(site.dir / "ca.crt"),
             "-u", "hub", "-P", PASSWORDS["hub"], "-t", "$SYS/broker/connection/venue-s1/state", "-C", "1", "-W", "2"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return done.stdout.strip()

    until(lambda: state() == "1", what="the bridge up")
    started = time.monotonic()
    uplink.cut()
    until(lambda: state() == "0", what="the bridge down, said by its will")
    assert time.monotonic() - started < 10
