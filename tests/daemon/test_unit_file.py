"""systemd/gate.service: verified by systemd itself, and its promises checked key by key."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
UNIT = ROOT / "systemd" / "gate.service"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (a key may repeat, as DeviceAllow does)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_unit_says_what_the_daemon_needs() -> None:
    unit = parse_unit(UNIT.read_text())
    service = {key: values[-1] for key, values in unit["Service"].items()}
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert service["WatchdogSec"] == "10"
    assert (service["Restart"], service["RestartSec"]) == ("on-failure", "2")
    # gate run's exit status for a bad config (2) and for a ledger that cannot serve (3)
    assert service["RestartPreventExitStatus"] == "2 3"
    assert (service["User"], service["Group"]) == ("gate", "gate")
    assert set(service["SupplementaryGroups"].split()) == {"gpio", "dialout", "video", "input"}
    assert service["StateDirectory"] == "gate" and service["RuntimeDirectory"] == "gate"
    assert service["ExecStart"] == "/opt/gate/.venv/bin/gate run --config /etc/gate/gate.toml"
    for hardening in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert service[hardening] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert "PrivateDevices" not in service  # it would hide the GPIO chip and the scanners
    assert service["DevicePolicy"] == "closed"
    allowed = {value.split()[0] for value in unit["Service"]["DeviceAllow"]}
    assert {"char-gpiochip", "char-ttyACM", "char-ttyUSB", "char-video4linux", "char-input"} <= allowed
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_the_ledger_and_socket_paths_match_the_unit_directories() -> None:
    example = (ROOT / "config" / "gate.example.toml").read_text()
    assert 'path = "/var/lib/gate/ledger.sqlite"' in example  # StateDirectory=gate
    from gate.config import DaemonConfig  # noqa: PLC0415

    assert str(DaemonConfig().control_socket) == "/run/gate/control.sock"  # RuntimeDirectory=gate


def test_sysusers_creates_the_user_in_its_groups() -> None:
    lines = [line.split() for line in (ROOT / "systemd" / "gate.sysusers").read_text().splitlines()
             if line and not line.startswith("#")]  # fmt: skip
    assert lines[0][:2] == ["u", "gate"]
    assert {tuple(line[:3]) for line in lines[1:]} == {("m", "gate", g) for g in ("gpio", "dialout", "video", "input")}


def _verify(unit: Path, tmp_path: Path) -> tuple[int, str]:
    """`systemd-analyze verify` in a scratch root that has the unit, its ExecStart and the system's targets."""
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(unit, root / "etc/systemd/system" / unit.name)
    gate = root / "opt/gate/.venv/bin/gate"
    gate.parent.mkdir(parents=True)
    gate.write_text("#!/bin/sh\n")
    gate.chmod(0o755)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", unit.name],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify only warns about unknown keys and bad values: any output at all is a failure.
    assert _verify(UNIT, tmp_path) == (0, "")


def test_the_sync_unit_verifies_and_runs_gate_sync_as_the_lane_s_user(tmp_path: Path) -> None:
    unit = parse_unit((ROOT / "systemd" / "gate-sync.service").read_text())
    service = unit["Service"]
    assert service["ExecStart"] == ["/opt/gate/.venv/bin/gate sync --config /etc/gate/gate.toml"]
    assert (service["User"], service["StateDirectory"]) == (["gate"], ["gate"])  # the lanes' user and ledger
    assert service["RestartPreventExitStatus"] == ["2"]
    assert service["LoadCredential"][0].startswith("mqtt-password:")  # the password never in the config
    assert _verify(ROOT / "systemd" / "gate-sync.service", tmp_path) == (0, "")
