"""`gate doctor`: each check on prepared devices and ledgers, and the command on this machine."""

from __future__ import annotations

import asyncio
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from gate.cache import SCHEMA_VERSION, Ledger
from gate.config import GateConfig, parse_config
from gate.daemon import doctor
from gate.daemon.clock import Sync
from gate.daemon.control import ControlServer
from gate.daemon.doctor import Finding
from tests.configs import config_text, write_config

ROOT = Path(__file__).parents[2]


def device(tmp_path: Path, factory: str | None = "lgpio") -> dict[str, Any]:
    """Lane l1 (entry only) with its ledger and control socket in `tmp_path`, and its turnstile
    on the `factory` pins (none: no [turnstile] section)."""
    sections: dict[str, Any] = {
        "lanes": {"l1": {"directions": ["entry"]}},
        "ledger": {"path": tmp_path / "ledger.sqlite"},
        "daemon": {"control_socket": tmp_path / "control.sock"},
    }
    if factory is not None:
        sections["turnstile"] = {"pin_factory": factory, "entry": {"relay": 17, "sensor": 27}}
    return sections


def config(tmp_path: Path, *, factory: str | None = "lgpio", **sections: Any) -> GateConfig:
    return parse_config(config_text(device(tmp_path, factory), **sections))


def test_gpio(tmp_path: Path) -> None:
    chip = tmp_path / "gpiochip0"
    missing = doctor.check_gpio(config(tmp_path), "l1", chip=chip)
    assert any(f.status == "fix" and f"no {chip}: this is not a Raspberry Pi" in f.text for f in missing)
    chip.write_bytes(b"")
    found = doctor.check_gpio(config(tmp_path), "l1", chip=chip)
    lgpio_missing = [f for f in found if "lgpio module is not installed" in f.text]
    assert found == lgpio_missing or found == [Finding("ok", "gpio", f"lgpio backend, {chip} opens")]
    (mock,) = doctor.check_gpio(config(tmp_path, factory="mock"), "l1", chip=chip)
    assert mock.status == "fix" and "simulated pins, no turnstile will move" in mock.text
    (none,) = doctor.check_gpio(config(tmp_path, factory=None), "l1", chip=chip)
    assert none.status == "fix" and "no [turnstile] section" in none.text


def test_readers(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    master, slave = pty.openpty()
    fifo = tmp_path / "scanner0"
    os.mkfifo(fifo)
    readers = {
        "cam": {"type": "camera", "lane": "l1", "source": f"{dev}/video0"},
        "serial": {"type": "serial", "lane": "l1", "port": os.ttyname(slave)},
        "net": {"type": "serial", "lane": "l1", "port": "socket://10.0.0.5:4001"},
        "wedge": {"type": "wedge", "lane": "l1", "device": fifo},
        "gone": {"type": "wedge", "lane": "l1", "device": tmp_path / "missing"},
    }
    try:
        found = {f.topic: f for f in doctor.check_readers(config(tmp_path, readers=readers), "l1", dev=dev)}
        assert found["cameras"].status == "fix" and "no camera here" in found["cameras"].text
        assert found["reader cam"].status == "fix" and f"no camera at {dev}/video0" in found["reader cam"].text
        assert found["reader serial"] == Finding("ok", "reader serial", f"serial port {os.ttyname(slave)} opens")
        assert found["reader net"].status == "info"
        assert found["reader wedge"] == Finding("ok", "reader wedge", f"input device {fifo} opens")
        assert found["reader gone"].status == "fix" and "check the udev rule" in found["reader gone"].text
        (dev / "video0").write_bytes(b"")  # a stand-in device node: present and openable
        found = {f.topic: f for f in doctor.check_readers(config(tmp_path, readers=readers), "l1", dev=dev)}
        assert found["cameras"] == Finding("ok", "cameras", f"present: {dev}/video0")
        assert found["reader cam"].status == "ok"
    finally:
        os.close(master)
        os.close(slave)
    (nothing,) = doctor.check_readers(config(tmp_path), "l1", dev=dev)
    assert nothing.status == "fix" and "no reader feeds lane l1" in nothing.text


def test_clock_disk_and_user(tmp_path: Path) -> None:
    assert doctor.check_clock(None, lambda: Sync(True, True)).status == "ok"
    unsynced = doctor.check_clock(config(tmp_path), lambda: Sync(False, False))
    assert unsynced.status == "fix" and "timedatectl set-ntp true" in unsynced.text
    offline = config(tmp_path, daemon={"clock": {"require_sync": False}})
    assert doctor.check_clock(offline, lambda: Sync(False, None)).status == "ok"
    assert doctor.check_disk(tmp_path / "a" / "b" / "ledger.sqlite").status == "ok"
    assert doctor.check_disk(tmp_path / "ledger.sqlite", minimum=1 << 62).status == "fix"
    assert doctor.check_service_user("no-such-user-here").status == "fix"
    root = doctor.check_service_user("root")
    assert root.status in ("ok", "fix") and "root" in root.text


def test_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    assert doctor.check_ledger(path).status == "fix"
    Ledger.open(path).close()
    ok = doctor.check_ledger(path)
    assert ok.status == "ok" and f"quick_check ok, schema {SCHEMA_VERSION}" in ok.text and "0 hold(s) open" in ok.text

    newer = tmp_path / "newer.sqlite"
    Ledger.open(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert "newer than this gate knows" in doctor.check_ledger(newer).text

    damaged = tmp_path / "damaged.sqlite"
    Ledger.open(damaged).close()
    data = bytearray(damaged.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for number in range(1, len(data) // page):  # every b-tree page but the first gets a bad type
        data[number * page] = 0x55
    damaged.write_bytes(bytes(data))
    result = doctor.check_ledger(damaged)
    assert result.status == "fix" and "is damaged" in result.text, result

    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert doctor.check_ledger(foreign).text.endswith("is not a gate ledger")


def test_daemon_running(tmp_path: Path) -> None:
    class Target:
        def status(self) -> dict[str, Any]:
            return {"lane": {"lane": "l1", "mode": "free"}, "health": {"ok": True}}

        async def login(self, *args: Any, **kwargs: Any) -> Any: ...

        async def execute(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"status": self.status()}

    cfg = config(tmp_path)
    assert doctor.check_daemon(cfg).status == "info"

    async def scenario() -> Finding:
        async with ControlServer(cfg.daemon.control_socket, Target(), hooks=False):
            return await asyncio.to_thread(doctor.check_daemon, cfg)

    assert asyncio.run(scenario()) == Finding("info", "daemon", "running: lane l1 free, healthy")


def test_the_command_on_this_machine(tmp_path: Path) -> None:
    """No GPIO, no camera here: the doctor must say so in words, not crash, and exit 1."""
    path = tmp_path / "gate.toml"
    write_config(path, device(tmp_path), readers={"cam": {"type": "camera", "lane": "l1", "source": "/dev/video0"}})
    done = subprocess.run([sys.executable, "-m", "gate", "doctor", "--config", str(path)],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert all(line.startswith(("ok ", "FIX ", "info ")) for line in lines[:-1]), lines
    topics = {line.split()[1].rstrip(":") for line in lines[:-1]}
    assert {"config", "user", "lane", "gpio", "cameras", "reader", "clock", "disk", "ledger", "daemon"} <= topics
    assert lines[-1].endswith("thing(s) to fix")
    gpio = [line for line in lines if line.split()[1] == "gpio:"]
    if not Path("/dev/gpiochip0").exists():
        assert any("no /dev/gpiochip0: this is not a Raspberry Pi" in line for line in gpio)
    if not list(Path("/dev").glob("video*")):
        assert any("no camera here (no /dev/video*)" in line for line in lines)
    assert any(line.startswith("FIX   ledger: no ledger at") for line in lines)

    broken = tmp_path / "broken.toml"
    write_config(broken, device(tmp_path, factory=None), site={"colour": 1}, turnstile={})
    done = subprocess.run([sys.executable, "-m", "gate", "doctor", "--config", str(broken)],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert f"FIX   config: {broken}: site.colour: unknown key" in done.stdout
