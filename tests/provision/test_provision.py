"""`gate provision` without a broker running: the config a device gets, what is refused before
anything changes, and a bundle checked whole on the device before anything is installed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

from cryptography import x509

from gate.config import load_config
from tests.provision.conftest import Provisioning

ROOT = Path(__file__).parents[2]


def _snapshot(provisioning: Provisioning) -> dict[str, bytes]:
    """Every file of the venue's side: what a refused command must leave as it was."""
    return {str(p.relative_to(provisioning.dir)): p.read_bytes()
            for p in sorted(provisioning.dir.rglob("*")) if p.is_file()}  # fmt: skip


def test_a_device_gets_its_config_password_and_the_hub_s_keys(provisioning: Provisioning) -> None:
    assert provisioning.gate("init")[0] == 0  # the empty password file
    done = provisioning.device("d1")
    assert done["action"] == "provisioned" and done["user"] == "d1" and done["serial"] is None
    assert provisioning.password_file.read_text().startswith("d1:$7$")  # mosquitto_passwd's own hash

    bundle = provisioning.dir / "bundles" / "d1.tar"
    assert bundle.stat().st_mode & 0o777 == 0o600  # it holds the password
    code, out, err = provisioning.gate("apply", str(bundle))
    assert code == 0, err
    device = provisioning.dir / "device"
    assert (device / "mqtt-password").stat().st_mode & 0o777 == 0o600
    assert (device / "gate.toml").stat().st_mode & 0o777 == 0o640
    config = load_config(device / "gate.toml", daemon=True)  # what gate run and gate sync will read
    assert config.device.id == "d1" and config.sync.username == "d1" and config.sync.site == "s1"
    assert config.sync.ledger_keys == {"hub": provisioning.ledger_public}
    assert config.sync.password_file == device / "mqtt-password"
    assert list(config.lanes) == ["l1"] and config.sync.reconnect_max_s == 1.0  # the template's own keys
    assert "next: systemctl enable --now gate gate-sync" in out

    listed = provisioning.gate("list", "--json")[1]
    assert json.loads(listed)["d1"]["state"] == "active"


def test_what_is_refused_changes_nothing(provisioning: Provisioning) -> None:
    assert provisioning.gate("init")[0] == 0
    provisioning.device("d1")
    before = _snapshot(provisioning)

    code, _, err = provisioning.gate("device", "d1", "--set", "lane=l1", "--set", "zone=main", "--set", "ledger=x")
    assert code == 2 and "device d1 is provisioned already" in err and "--replace" in err
    # A zone the template's site does not have: the config check's own words, by key path.
    code, _, err = provisioning.gate("device", "d2", "--set", "lane=l1", "--set", "zone=hall", "--set", "ledger=x")
    assert code == 2 and "lanes.l1.zone" in err and "hall" in err
    code, _, err = provisioning.gate("device", "d2", "--set", "lane=l1", "--set", "zone=main")
    assert code == 2 and "${ledger} has no value (--set ledger=...)" in err and "line 14" in err
    code, _, err = provisioning.gate("device", "d2", "--set", "lane=l1", "--set", "zone=main", "--set", "ledger=x",
                                     "--set", "colour=red")  # fmt: skip
    assert code == 2 and "--set colour: the template has no ${colour}" in err
    code, _, err = provisioning.gate("device", "d2", "--set", 'lane=l1"\nx', "--set", "zone=main", "--set", "ledger=x")
    assert code == 2 and "--set lane: one printable line" in err
    code, _, err = provisioning.gate("device", "d/2", "--set", "lane=l1", "--set", "zone=main", "--set", "ledger=x")
    assert code == 2 and "not a usable device id 'd/2'" in err
    # The template may not set what gate provision owns.
    template = provisioning.dir / "device.toml.in"
    template.write_text(template.read_text().replace("[sync]\n", '[sync]\nhost = "elsewhere"\n'))
    code, _, err = provisioning.gate("device", "d2", "--set", "lane=l1", "--set", "zone=main", "--set", "ledger=x")
    assert code == 2 and "sync.host: the template sets it, gate provision sets it from the venue file" in err
    template.write_text(template.read_text().replace('host = "elsewhere"\n', ""))
    assert _snapshot(provisioning) == before  # no bundle, no password, no state changed

    # A venue file with a mistake: every problem by its key path.
    provisioning.venue.write_text(provisioning.venue.read_text().replace('site = "s1"', 'site = "s 1"\ncolour = 1'))
    code, _, err = provisioning.gate("device", "d2", "--set", "lane=l1", "--set", "zone=main", "--set", "ledger=x")
    assert code == 2 and "site: String should match pattern" in err and "colour: unknown key" in err


def test_a_bundle_is_checked_whole_before_anything_is_installed(provisioning: Provisioning) -> None:
    assert provisioning.gate("init")[0] == 0
    provisioning.device("d1")
    provisioning.device("d2")
    bundles = provisioning.dir / "bundles"
    device = provisioning.dir / "device"

    # One file changed after it was made: refused, nothing written.
    tampered = provisioning.dir / "tampered.tar"
    with tarfile.open(bundles / "d1.tar") as source, tarfile.open(tampered, "w") as out:
        for info in source.getmembers():
            data = source.extractfile(info).read()  # type: ignore[union-attr]
            if info.name.endswith("gate.toml"):
                data = data.replace(b'host = "127.0.0.1"', b'host = "10.6.6.6"')
                info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    code, _, err = provisioning.gate("apply", str(tampered))
    assert code == 2 and "gate.toml is not the file its manifest lists" in err
    assert not device.exists()

    assert provisioning.gate("apply", str(bundles / "d1.tar"))[0] == 0
    # Another device's bundle over d1's config: only on purpose.
    code, _, err = provisioning.gate("apply", str(bundles / "d2.tar"))
    assert code == 2 and f"{device / 'gate.toml'} is device d1's config, not d2's" in err
    assert tomllib.loads((device / "gate.toml").read_text())["device"]["id"] == "d1"
    assert provisioning.gate("apply", str(bundles / "d2.tar"), "--force")[0] == 0
    assert tomllib.loads((device / "gate.toml").read_text())["device"]["id"] == "d2"
    code, _, err = provisioning.gate("apply", str(provisioning.venue))
    assert code == 2 and "not a tar file" in err


def test_a_bundle_through_a_pipe_as_over_ssh_with_a_certificate(provisioning: Provisioning) -> None:
    """`gate provision device ID --out - | ssh device sudo gate provision apply -`: the bundle on
    standard output, the words on standard error; the device gets a certificate of the venue's CA."""
    pki = provisioning.dir / "pki"
    tls = {"ca_file": str(pki / "ca.crt"), "ca_key_file": str(pki / "ca.key"), "crl_file": str(pki / "gate.crl")}
    provisioning.write_venue(password=False, tls=tls)
    code, out, err = provisioning.gate("init")
    assert code == 0 and f"CA {pki / 'ca.crt'}" in out and f"CRL {pki / 'gate.crl'}" in out, err
    assert (pki / "ca.key").stat().st_mode & 0o777 == 0o600

    made = subprocess.run(
        [sys.executable, "-m", "gate", "provision", "device", "d1", "--venue", str(provisioning.venue), "--out", "-",
         "--set", "lane=l1", "--set", "zone=main", "--set", f"ledger={provisioning.dir / 'd1.sqlite'}"],
        cwd=ROOT, capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0 and b"device d1 provisioned" in made.stderr, made.stderr
    applied = subprocess.run([sys.executable, "-m", "gate", "provision", "apply", "-"], input=made.stdout,
                             cwd=ROOT, capture_output=True, check=False, timeout=60)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    device = provisioning.dir / "device"
    certificate = x509.load_pem_x509_certificate((device / "mqtt-client.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    certificate.verify_directly_issued_by(ca)
    assert certificate.subject.rfc4514_string() == "CN=d1"  # the broker user, with use_identity_as_username
    assert (device / "mqtt-client.key").stat().st_mode & 0o777 == 0o600
    config = load_config(device / "gate.toml")
    assert config.sync.tls is not None and config.sync.tls.cert_file == device / "mqtt-client.crt"
    assert config.sync.username is None and config.sync.password_file is None


def _documented(marker: str) -> str:
    """The first block after `marker` in docs/scale.md: what an operator copies is what is tested."""
    text = (ROOT / "docs" / "scale.md").read_text()
    return text.split(marker, 1)[1].split("```", 2)[1].split("\n", 1)[1]


def test_the_documented_venue_file_and_template_make_a_device(provisioning: Provisioning) -> None:
    here = provisioning.dir
    venue = _documented("One venue file per venue")
    for old, new in {"/etc/gate-pki/": f"{here}/pki/", "/etc/mosquitto/": f"{here}/mosquitto/",
                     '"q3j0...="': json.dumps(provisioning.ledger_public),
                     '"Z8x1...="': json.dumps(provisioning.ledger_public),
                     '["systemctl", "reload", "mosquitto"]': "[]"}.items():  # fmt: skip
        assert old in venue, f"docs/scale.md's venue file: no {old!r}"
        venue = venue.replace(old, new)
    provisioning.venue.write_text(venue)
    (here / "device.toml.in").write_text(_documented("The template is a device's config"))
    code, out, err = provisioning.gate("init")
    assert code == 0 and "CA " in out and "password file" in out, err
    code, out, err = provisioning.gate("device", "lane-north-1", "--set", "lane=north-1", "--set", "zone=main",
                                       "--set", "port=/dev/scanner")  # fmt: skip
    assert code == 0 and "device lane-north-1 provisioned at site louvre" in out, err
    assert "lane-north-1:" in (here / "mosquitto" / "passwd").read_text()
