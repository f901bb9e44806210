"""A venue to provision devices for: its template, its venue file, the hub's keys, and helpers to
run `gate provision` (in process) and to try credentials against a real Mosquitto."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main
from gate.provision.toml import dumps as render
from tests.sync.guarded import documented_acl

TEMPLATE = """\
[site]
name = "Test venue"
timezone = "Europe/Paris"

[zones.main]
name = "Main"

[lanes.${lane}]
zone = "${zone}"
product = "entry"
directions = ["entry"]

[ledger]
path = "${ledger}"

[turnstile]
pin_factory = "mock"

[turnstile.entry]
relay = 17
sensor = 27

[sync]
confirm_timeout_s = 2.0
reconnect_max_s = 1.0
"""


@dataclass
class Provisioning:
    """A venue's files in `dir`; `gate(...)` runs `gate provision VERB ... --venue` in process."""

    dir: Path
    capsys: pytest.CaptureFixture[str]
    ledger_public: str
    password_file: Path  # the broker's

    @property
    def venue(self) -> Path:
        return self.dir / "venue.toml"

    def write_venue(self, *, port: int = 1883, reload: list[str] | None = None, password: bool = True,
                    tls: dict[str, Any] | None = None, **extra: Any) -> None:  # fmt: skip
        data: dict[str, Any] = {
            "site": "s1", "template": "device.toml.in", "state": "state/s1.json", "bundles": "bundles",
            "broker": {"host": "127.0.0.1", "port": port, "reload": reload or []},
            "hub": {"ledger_keys": {"hub": self.ledger_public}},
            "device": {"dir": str(self.dir / "device"), "password_file": str(self.dir / "device" / "mqtt-password")},
            **extra,
        }  # fmt: skip
        if password:
            data["broker"]["password_file"] = str(self.password_file)
        if tls is not None:
            data["tls"] = tls
        self.venue.write_text(render(data))

    def gate(self, verb: str, *args: str) -> tuple[int, str, str]:
        """`gate provision VERB ARGS --venue V` (apply: no --venue): exit status, stdout, stderr."""
        venue = [] if verb == "apply" else ["--venue", str(self.venue)]
        code = main(["provision", verb, *args, *venue])
        out, err = self.capsys.readouterr()
        return code, out, err

    def device(self, name: str, *args: str, lane: str = "l1") -> dict[str, Any]:
        """Provision `name` (a lane daemon's config: lane l1 in zone main); what it did, as JSON."""
        ledger = self.dir / f"{name}-ledger.sqlite"
        code, out, err = self.gate("device", name, "--set", f"lane={lane}", "--set", "zone=main", "--set",
                                   f"ledger={ledger}", "--json", *args)  # fmt: skip
        assert code == 0, err
        done: dict[str, Any] = json.loads(out)
        return done


@pytest.fixture
def provisioning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Provisioning:
    (tmp_path / "device.toml.in").write_text(TEMPLATE)
    keys = tmp_path / "keys"
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(keys)]) == 0
    public = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["public_key"]
    made = Provisioning(tmp_path, capsys, public, tmp_path / "passwd")
    made.write_venue()
    return made


ACL = documented_acl()


def connect(port: int, *, user: str | None = None, password: str | None = None,
            tls: tuple[Path, Path, Path] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """One connection to the broker as a device would make it (mosquitto_pub on its own online
    topic): exit status 0 when the broker took it."""
    argv = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-V", "mqttv5", "-q", "1", "-m", "online",
            "-t", f"gate/v1/s1/devices/{user or 'x'}/online"]  # fmt: skip
    if user is not None:
        argv += ["-u", user]
    if password is not None:
        argv += ["-P", password]
    if tls is not None:
        ca, cert, key = tls
        argv += ["--cafile", str(ca), "--cert", str(cert), "--key", str(key)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
