"""Remote commands with real parts: `gate hub command` signs, the running `gate hub` sends it through
Mosquitto, the device's `gate sync` checks it and has a real `gate run` daemon (mock pins) carry it
out through its control socket. A replayed command (also after `gate sync` restarts), an expired,
an unsigned and a forged one, and one while the device's clock is off the hub's, are refused,
journaled with their reason, and change nothing at the lane."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger
from gate.cli import main
from gate.sync.commands import RemoteCommand, sign_command
from gate.sync.payloads import dump
from tests.daemon.conftest import DaemonProcess, Start, Venue, wait_ready
from tests.sync.broker import Broker
from tests.sync.conftest import Process, Site, until

COMMANDS = "gate/v1/s1/devices/d1/commands"


def _key(site: Site, capsys: pytest.CaptureFixture[str]) -> tuple[str, Ed25519PrivateKey]:
    out = site.dir / "keys"
    assert main(["keys", "generate", "--id", "hub-command", "--purpose", "command", "--out", str(out)]) == 0
    public = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["public_key"]
    private = serialization.load_pem_private_key((out / "hub-command.key").read_bytes(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    return str(public), private


def _publish(broker: Broker, topic: str, payload: bytes) -> None:
    subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-t", topic, "-q", "1", "-s"], input=payload,
                   check=True, timeout=10)  # fmt: skip


def _remote(venue: Venue) -> list[tuple[str | None, str]]:
    """The device's `remote.command` journal rows: (reason code, nonce)."""
    with Ledger.open(venue.ledger, create=False) as ledger:
        return [(e.reason, e.body["nonce"]) for e in ledger.journal() if e.type == "remote.command"]


def _command(**fields: Any) -> RemoteCommand:
    now = int(time.time())
    base = {"v": 1, "device": "d1", "lane": "l1", "op": "open", "reason": "wheelchair", "nonce": "ab" * 16,
            "issued": now, "expires": now + 60}  # fmt: skip
    return RemoteCommand.model_validate({**base, **fields})


def _connected(sync: Process, after: int = 0) -> None:
    until(lambda: sync.log().count("connected to") > after, what="gate sync connected")


def _passages(daemon: DaemonProcess) -> list[str]:
    return [p["outcome"] for p in daemon.status()["lane"]["last_passages"]]


def test_a_signed_open_once_opens_the_lane_and_replays_forgeries_and_stale_ones_are_refused(
    site: Site, broker: Broker, venue: Venue, start_daemon: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    public, private = _key(site, capsys)
    venue.write_config(device={"id": "d1"}, sync={"site": "s1", "port": broker.port, "reconnect_max_s": 1,
                                                  "command_keys": {"hub-command": public}})  # fmt: skip
    hub_config = site.config("hub", hub={"command_key_file": "keys/hub-command.key"})
    daemon = start_daemon()
    wait_ready(daemon)
    hub = site.run("hub", hub_config)
    sync = site.run("sync", venue.config)
    _connected(sync)

    # The hub's command, as an operator gives it; a listener keeps what went on the wire.
    wire = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-t", COMMANDS, "-C", "1", "-W", "30"],
                            stdout=subprocess.PIPE)  # fmt: skip
    time.sleep(0.3)  # subscribed before the command goes
    code = main(["hub", "command", "d1", "open", "l1", "--reason", "wheelchair", "--config", str(hub_config)])
    out = capsys.readouterr()
    assert code == 0 and out.out.strip().endswith("done: ok"), out
    sent, _ = wire.communicate(timeout=30)
    nonce = json.loads(sent)["nonce"]
    # The turnstile opened once: the passage walks through as an open-once, by the hub's key.
    assert venue.ask({"op": "sim_passage"})["ok"]
    daemon.wait_until(lambda s: [p["outcome"] for p in s["lane"]["last_passages"]] == ["open_once"])
    with Ledger.open(venue.ledger, create=False) as ledger:
        (opened,) = [e for e in ledger.journal() if e.type == "staff.open_once"]
        assert (opened.body["staff"], opened.body["reason"]) == ("hub:hub-command", "wheelchair")
    assert _remote(venue) == [("ok", nonce)]

    # The same message again: refused as replayed, the lane stays shut.
    _publish(broker, COMMANDS, sent)
    until(lambda: len(_remote(venue)) == 2, what="the replay journaled")
    assert _remote(venue)[-1] == ("replayed", nonce)
    # gate sync restarts: the nonce is in the ledger, the replay is refused all the same.
    assert sync.stop() == 0
    sync = site.run("sync", venue.config)
    _connected(sync)
    _publish(broker, COMMANDS, sent)
    until(lambda: len(_remote(venue)) == 3, what="the replay after the restart journaled")
    assert _remote(venue)[-1] == ("replayed", nonce)

    # Expired (well signed), unsigned, and signed by another key under the hub's key id.
    now = int(time.time())
    stale = sign_command("s1", _command(nonce="01" * 16, issued=now - 120, expires=now - 60), key_id="hub-command",
                         key=private)  # fmt: skip
    unsigned = _command(nonce="02" * 16)
    forged = sign_command("s1", _command(nonce="03" * 16), key_id="hub-command", key=Ed25519PrivateKey.generate())
    for command in (stale, unsigned, forged):
        _publish(broker, COMMANDS, dump(command))
    until(lambda: len(_remote(venue)) == 6, what="the three refusals journaled")
    assert _remote(venue)[3:] == [("expired", "01" * 16), ("unsigned", "02" * 16), ("bad_signature", "03" * 16)]
    assert venue.ask({"op": "status"})["status"]["lane"]["passage"] is None  # nothing opened

    # The device's clock 2 minutes off the hub's (a live head says so): commands are refused, and
    # the lane daemon, told by the ledger, refuses the hub's audience itself too. The hub stops
    # meanwhile: its own head, every 5 s, would set the clock right again.
    assert hub.stop() == 0
    _publish(broker, "gate/v1/s1/hub/head", json.dumps({"v": 1, "seq": 0, "at": time.time() + 120}).encode())
    daemon.wait_until(lambda s: not s["clock"]["trusted"])
    _publish(broker, COMMANDS, dump(sign_command("s1", _command(nonce="04" * 16), key_id="hub-command", key=private)))
    until(lambda: len(_remote(venue)) == 7, what="the refusal on an untrusted clock journaled")
    assert _remote(venue)[-1] == ("clock_untrusted", "04" * 16)
    direct = venue.ask({"op": "open", "reason": "x", "hub": "hub-command"})
    assert not direct["ok"] and "clock is not trusted" in direct["error"]
    assert _passages(daemon) == ["open_once"]

    # Back in step with the hub: a mode command goes through.
    hub = site.run("hub", hub_config)
    daemon.wait_until(lambda s: s["clock"]["trusted"], timeout=20)
    code = main(["hub", "command", "d1", "mode", "l1", "locked", "--reason", "cleaning", "--config", str(hub_config)])
    out = capsys.readouterr()
    assert code == 0 and out.out.strip().endswith("done: ok"), out
    assert daemon.status()["lane"]["mode"] == "locked"
    assert sync.stop() == 0 and daemon.stop() == 0 and hub.stop() == 0


def test_a_command_key_others_may_read_signs_nothing(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    _key(site, capsys)
    (site.dir / "keys" / "hub-command.key").chmod(0o644)
    hub_config = site.config("hub", hub={"command_key_file": "keys/hub-command.key"})
    assert main(["hub", "command", "d1", "open", "l1", "--reason", "x", "--config", str(hub_config)]) == 2
    assert "hub.command_key_file" in capsys.readouterr().err


def test_a_command_the_hub_never_sent_is_withdrawn_when_its_wait_ends(
    site: Site, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    _key(site, capsys)
    hub_config = site.config("hub", hub={"command_key_file": "keys/hub-command.key"})
    # No gate hub running: nobody sends it, and the operator is told it will not be.
    code = main(["hub", "command", "d1", "open", "l1", "--reason", "x", "--wait", "0.5", "--config", str(hub_config)])
    assert code == 1 and "the hub did not send it (is gate hub running?): withdrawn" in capsys.readouterr().err
    # The hub starting later does not send it: it could open a lane nobody waits at any more.
    wire = subprocess.Popen(["mosquitto_sub", "-p", str(broker.port), "-t", COMMANDS, "-C", "1", "-W", "60"],
                            stdout=subprocess.PIPE)  # fmt: skip
    hub = site.run("hub", hub_config)
    until(lambda: "connected to" in hub.log(), what="the hub connected")
    time.sleep(2)  # ten of its looks at the store for commands to send
    wire.terminate()
    sent, _ = wire.communicate(timeout=10)
    assert sent == b""
    assert hub.stop() == 0
