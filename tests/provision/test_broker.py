"""`gate provision` end to end with a real Mosquitto: a provisioned device connects, takes the hub's
signed batches with the keys it was given, and decides; a replaced or revoked device's credentials
are refused at its next connection once the broker re-reads its files on SIGHUP, the broker
running all along (same process), and the new credentials work."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from gate.cache import Ledger
from gate.cli import main
from tests.daemon.conftest import ledger_lines
from tests.provision.conftest import ACL, Provisioning, connect
from tests.sync.broker import Broker
from tests.sync.conftest import ROOT, Site, until

HUB_PASSWORD = "hub-secret"


@pytest.fixture
def broker(provisioning: Provisioning) -> Iterator[Broker]:
    """Mosquitto with the documented ACL and a password file holding the hub's user only."""
    running = Broker(users={"hub": HUB_PASSWORD}, acl=ACL)
    running.start()
    assert running.process is not None
    provisioning.password_file = running.dir / "passwd"  # the broker's own file, as on the venue box
    provisioning.write_venue(port=running.port, reload=["kill", "-HUP", str(running.process.pid)])
    try:
        yield running
    finally:
        running.close()


def _installed(provisioning: Provisioning, device: str) -> Path:
    """The device's bundle applied into its folder; its config."""
    code, _, err = provisioning.gate("apply", str(provisioning.dir / "bundles" / f"{device}.tar"), "--force")
    assert code == 0, err
    return provisioning.dir / "device" / "gate.toml"


def _check(config: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gate", "--config", str(config), "check", code], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=30)  # fmt: skip


def test_a_provisioned_device_decides_and_a_replaced_one_is_refused(
    provisioning: Provisioning, broker: Broker, tmp_path: Path
) -> None:
    site = Site(tmp_path, broker)
    try:
        hub_password = tmp_path / "hub.password"
        hub_password.write_text(HUB_PASSWORD + "\n")
        hub_password.chmod(0o600)
        hub = site.config("hub", username="hub", password_file=hub_password.name,
                          hub={"ledger_key_id": "hub", "ledger_key_file": "keys/hub.key"})  # fmt: skip
        tickets = tmp_path / "tickets.jsonl"
        tickets.write_text("\n".join(json.dumps(line) for line in ledger_lines()) + "\n")
        assert main(["hub", "publish", str(tickets), "--config", str(hub)]) == 0
        provisioning.capsys.readouterr()
        site.run("hub", hub)

        first = provisioning.device("d1")
        config = _installed(provisioning, "d1")
        old_password = (provisioning.dir / "device" / "mqtt-password").read_text().strip()
        ledger = Ledger.open(provisioning.dir / "d1-ledger.sqlite")  # as gate run makes it at its first start
        sync = site.run("sync", config)
        # The hub's batch, signed by the key the device was given, applied: the ticket admits.
        until(lambda: ledger.setting("sync.batch_seq") == "1", what="the hub's batch at the new device")
        assert "gate-sync-d1: connected to 127.0.0.1" in sync.log()
        decided = _check(config, "ONE")
        assert decided.returncode == 0 and "admit" in decided.stdout.lower(), decided.stdout + decided.stderr
        ledger.close()

        # The device is replaced (the old one still running, say stolen): new credentials, the broker
        # reloaded by gate provision itself. Mosquitto checks its connected clients again on SIGHUP: the
        # old one is cut off at once, and refused at each attempt to come back.
        pid = broker.process.pid if broker.process else None
        second = provisioning.device("d1", "--replace")
        assert second["action"] == "replaced" and second["reloaded"] == f"kill -HUP {pid}"
        new_password = _password_in_bundle(provisioning, "d1")
        assert new_password != old_password and first["user"] == second["user"] == "d1"
        until(lambda: "gate-sync-d1: disconnected" in sync.log(), what="the old device cut off", timeout=10)
        until(lambda: "not authorized" in sync.log().lower(), what="the old device refused", timeout=10)
        refused = connect(broker.port, user="d1", password=old_password)
        assert refused.returncode != 0 and "not authorized" in (refused.stderr + refused.stdout).lower()
        assert connect(broker.port, user="d1", password=new_password).returncode == 0
        assert broker.process is not None and broker.process.poll() is None and broker.process.pid == pid
        sync.stop()

        # The new hardware, with the new bundle, is a member again.
        config = _installed(provisioning, "d1")
        (provisioning.dir / "d1-ledger.sqlite").unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{provisioning.dir / 'd1-ledger.sqlite'}{suffix}").unlink(missing_ok=True)
        ledger = Ledger.open(provisioning.dir / "d1-ledger.sqlite")
        replacement = site.run("sync", config)
        until(lambda: ledger.setting("sync.batch_seq") == "1", what="the hub's batch at the replacement")
        assert "gate-sync-d1: connected to 127.0.0.1" in replacement.log()
        ledger.close()

        # Revoked: the broker user is gone; the next connection is refused.
        code, out, err = provisioning.gate("revoke", "d1")
        assert code == 0 and "device d1 revoked: broker user removed" in out, err
        assert "d1:" not in (broker.dir / "passwd").read_text()
        until(lambda: connect(broker.port, user="d1", password=new_password).returncode != 0,
              what="the revoked device refused", timeout=10)  # fmt: skip
        assert broker.process is not None and broker.process.pid == pid
    finally:
        site.kill_all()


def _password_in_bundle(provisioning: Provisioning, device: str) -> str:
    with tarfile.open(provisioning.dir / "bundles" / f"{device}.tar") as tar:
        member = tar.extractfile(f"{device}/mqtt-password")
        assert member is not None
        return member.read().decode().strip()


def test_a_replaced_certificate_is_refused_once_the_crl_is_read_again(
    provisioning: Provisioning, tmp_path: Path
) -> None:
    """Client certificates (require_certificate, use_identity_as_username) and the CRL the broker reads."""
    pki = tmp_path / "pki"
    tls = {"ca_file": str(pki / "ca.crt"), "ca_key_file": str(pki / "ca.key"), "crl_file": str(pki / "gate.crl")}
    provisioning.write_venue(password=False, tls=tls)
    code, out, err = provisioning.gate("init", "--broker-name", "127.0.0.1")
    assert code == 0 and "broker certificate" in out, err
    # The test's broker, dropped to its own user, reads its files from a folder of its own (not pytest's).
    broker = Broker(acl=ACL, tls=(pki / "ca.crt", pki / "broker.crt", pki / "broker.key"))
    tls["crl_file"] = str(broker.dir / "gate.crl")
    provisioning.write_venue(password=False, tls=tls)
    code, out, err = provisioning.gate("crl")
    assert code == 0 and "0 certificate(s) revoked" in out, err
    # The listener's lines of docs/scale.md (the Broker writes the listener, CA and its certificate itself).
    listener = (ROOT / "docs" / "scale.md").read_text().split("listener for client certificates then reads:", 1)[1]
    lines = listener.split("```", 2)[1].splitlines()[1:]
    with broker.config.open("a") as conf:
        for line in lines:
            if line.split()[0] in ("require_certificate", "use_identity_as_username"):
                conf.write(line + "\n")
            elif line.startswith("crlfile "):
                conf.write(f"crlfile {broker.dir / 'gate.crl'}\n")
    assert "use_identity_as_username true\n" in broker.config.read_text()
    broker.start()
    try:
        assert broker.process is not None
        pid = broker.process.pid
        provisioning.write_venue(password=False, tls=tls, port=broker.port, reload=["kill", "-HUP", str(pid)])
        first = provisioning.device("d1")
        device = provisioning.dir / "device"
        _installed(provisioning, "d1")
        old = tmp_path / "old"
        old.mkdir()
        for name in ("mqtt-client.crt", "mqtt-client.key"):
            (old / name).write_bytes((device / name).read_bytes())
            (old / name).chmod(0o600)
        as_old = (pki / "ca.crt", old / "mqtt-client.crt", old / "mqtt-client.key")
        assert connect(broker.port, user="d1", tls=as_old).returncode == 0

        done = provisioning.device("d1", "--replace")
        assert done["revoked"] and done["serial"] not in done["revoked"]
        _installed(provisioning, "d1")
        as_new = (pki / "ca.crt", device / "mqtt-client.crt", device / "mqtt-client.key")
        until(lambda: connect(broker.port, user="d1", tls=as_old).returncode != 0, what="the old certificate refused",
              timeout=10)  # fmt: skip
        assert connect(broker.port, user="d1", tls=as_new).returncode == 0
        # Refused for its serial on the CRL the broker re-read; the new one is not on it.
        crl = x509.load_pem_x509_crl((broker.dir / "gate.crl").read_bytes())
        assert [format(r.serial_number, "x") for r in crl] == done["revoked"] == [first["serial"]]
        assert broker.process.poll() is None and broker.process.pid == pid
    finally:
        broker.close()


def test_the_bundle_holds_no_more_than_its_device_needs(provisioning: Provisioning) -> None:
    assert provisioning.gate("init")[0] == 0
    provisioning.device("d1")
    with tarfile.open(provisioning.dir / "bundles" / "d1.tar") as tar:
        names = sorted(Path(m.name).name for m in tar.getmembers())
    assert names == ["gate.toml", "mqtt-password", "provision.json"]  # no CA key, no other device's secret
    assert (provisioning.dir / "state" / "s1.json").stat().st_mode & 0o777 == 0o600
