"""`gate doctor`: what a field install needs, each as ok or what to fix.

Every check looks, none changes anything: devices are opened and closed again, the ledger is
read through a read-only connection. A check that cannot run says why instead of raising,
so the doctor works on a laptop with no GPIO and no camera, and says so.
"""

from __future__ import annotations

import errno
import grp
import importlib.util
import os
import pwd
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gate.cache import SCHEMA_VERSION
from gate.cache.redemptions import OPEN_HOLD_COUNT
from gate.cache.schema import APPLICATION_ID
from gate.config import (
    CameraReaderConfig,
    ConfigError,
    GateConfig,
    ReaderConfig,
    SerialReaderConfig,
    WedgeReaderConfig,
    load_config,
)
from gate.daemon.clock import system_sync
from gate.daemon.control import DaemonUnreachable, request

MIN_FREE_BYTES = 500 * 1024 * 1024
SERVICE_USER = "gate"
SERVICE_GROUPS = ("gpio", "dialout", "video", "input")
Status = Literal["ok", "fix", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    topic: str
    text: str

    def line(self) -> str:
        return f"{self.status.upper() if self.status == 'fix' else self.status:<4}  {self.topic}: {self.text}"


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _open_error(path: Path, exc: OSError, group: str) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{path} exists but user {_user()} may not open it: add the service user to the {group} group"
    if exc.errno == errno.EBUSY:
        return f"{path} is busy (another program holds it)"
    return f"{path} cannot be opened: {exc.strerror or exc}"


def _try_open(path: Path, flags: int) -> OSError | None:
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return exc
    os.close(fd)
    return None


def check_config(path: Path) -> tuple[list[Finding], GateConfig | None]:
    try:
        config = load_config(path)
    except ConfigError as exc:
        if not path.exists():
            hint = "copy config/gate.example.toml there and edit it (docs/install.md), or give --config FILE"
            return [Finding("fix", "config", f"no config at {path}: {hint}")], None
        return [Finding("fix", "config", f"{path}: {p}") for p in exc.problems], None
    text = f"{path}: valid ({config.site.name}, {len(config.lanes)} lane(s), {len(config.readers)} reader(s))"
    return [Finding("ok", "config", text)], config


def check_lane(config: GateConfig) -> tuple[Finding, str | None]:
    from gate.daemon.run import choose_lane  # noqa: PLC0415 - the daemon's own rule

    try:
        lane = choose_lane(config, None, source="config")
    except ConfigError as exc:
        return Finding("fix", "lane", exc.problems[0]), None
    return Finding("ok", "lane", f"this daemon runs lane {lane} (zone {config.lanes[lane].zone})"), lane


def check_gpio(config: GateConfig, lane: str | None, *, chip: Path = Path("/dev/gpiochip0")) -> list[Finding]:
    turnstile = config.turnstile
    if lane is not None and config.lanes[lane].kiosk:
        return [Finding("ok", "gpio", f"lane {lane} is a kiosk: no turnstile to drive")]
    if turnstile is None:
        return [Finding("fix", "gpio", "no [turnstile] section: the lane cannot drive its turnstile (docs/lane.md)")]
    if turnstile.pin_factory == "mock":
        return [Finding("fix", "gpio", 'turnstile.pin_factory = "mock": simulated pins, no turnstile will move; '
                        'set "lgpio" on a Raspberry Pi')]  # fmt: skip
    findings: list[Finding] = []
    if turnstile.pin_factory == "lgpio" and importlib.util.find_spec("lgpio") is None:
        findings.append(Finding("fix", "gpio", "the lgpio module is not installed: sudo apt install python3-lgpio "
                                "(venv made with --system-site-packages) or .venv/bin/pip install lgpio"))  # fmt: skip
    if not chip.exists():
        findings.append(Finding("fix", "gpio", f"no {chip}: this is not a Raspberry Pi, or its GPIO driver is not "
                                "loaded; no turnstile can be driven here"))  # fmt: skip
    elif (error := _try_open(chip, os.O_RDWR)) is not None:
        findings.append(Finding("fix", "gpio", _open_error(chip, error, "gpio")))
    if not findings:
        findings.append(Finding("ok", "gpio", f"{turnstile.pin_factory} backend, {chip} opens"))
    return findings


def check_readers(config: GateConfig, lane: str | None, *, dev: Path = Path("/dev")) -> list[Finding]:
    readers = {k: r for k, r in config.readers.items() if lane is None or r.lane == lane}
    if not readers:
        where = f"lane {lane}" if lane else "any lane"
        return [Finding("fix", "readers", f"no reader feeds {where}: add a [readers.<id>] section (docs/readers.md)")]
    findings: list[Finding] = []
    if any(isinstance(r, CameraReaderConfig) for r in readers.values()):
        cameras = sorted(str(p) for p in dev.glob("video*"))
        if cameras:
            findings.append(Finding("ok", "cameras", "present: " + ", ".join(cameras)))
        else:
            findings.append(Finding("fix", "cameras", f"no camera here (no {dev}/video*): plug the USB camera or "
                                    "enable the CSI camera; list them with `v4l2-ctl --list-devices`"))  # fmt: skip
    for reader_id, reader in readers.items():
        findings.extend(_reader(reader_id, reader, dev))
    return findings


def _reader(reader_id: str, reader: ReaderConfig, dev: Path) -> Iterator[Finding]:
    topic = f"reader {reader_id}"
    if isinstance(reader, CameraReaderConfig):
        yield from _camera(topic, reader)
    elif isinstance(reader, SerialReaderConfig):
        if "://" in reader.port:
            yield Finding("info", topic, f"serial URL {reader.port}: a network scanner, not checked from here")
        else:
            yield _device(topic, Path(reader.port), os.O_RDWR | os.O_NOCTTY, "dialout", "serial port")
    elif isinstance(reader, WedgeReaderConfig):
        yield _device(topic, reader.device, os.O_RDONLY, "input", "input device")


def _camera(topic: str, reader: CameraReaderConfig) -> Iterator[Finding]:
    module = "zxingcpp" if reader.backend == "zxing" else "pyzbar"
    if importlib.util.find_spec(module) is None:
        yield Finding("fix", topic, f"decoder {module} is not installed in this environment")
    elif reader.backend == "zbar" and _missing_zbar():
        yield Finding("fix", topic, "pyzbar needs the ZBar library: sudo apt install libzbar0")
    source = reader.source
    if source.startswith("file:"):
        path = Path(source[5:])
        yield Finding("ok" if path.exists() else "fix", topic, f"file source {path}" + ("" if path.exists() else
                      " does not exist"))  # fmt: skip
    elif source.startswith("csi:"):
        if importlib.util.find_spec("picamera2") is None:
            yield Finding("fix", topic, "csi camera needs picamera2: sudo apt install python3-picamera2 "
                          "(venv made with --system-site-packages)")  # fmt: skip
        else:
            yield Finding("ok", topic, f"{source}: picamera2 available")
    else:
        path = Path(f"/dev/video{source}") if source.isdigit() else Path(source)
        yield _device(topic, path, os.O_RDWR, "video", "camera")


def _missing_zbar() -> bool:
    import ctypes.util  # noqa: PLC0415

    return ctypes.util.find_library("zbar") is None


def _device(topic: str, path: Path, flags: int, group: str, what: str) -> Finding:
    if not path.exists():
        hint = " (check the udev rule of docs/readers.md)" if not path.name.startswith(("tty", "video")) else ""
        return Finding("fix", topic, f"no {what} at {path}: plug it in{hint}")
    error = _try_open(path, flags)
    if error is not None:
        return Finding("fix", topic, _open_error(path, error, group))
    return Finding("ok", topic, f"{what} {path} opens")


def check_clock(config: GateConfig | None, sync: Callable[[], object] = system_sync) -> Finding:
    state = sync()
    synced = bool(getattr(state, "since_boot", False))
    if synced:
        return Finding("ok", "clock", "synchronised since boot (NTP)")
    if config is not None and not config.daemon.clock.require_sync:
        return Finding("ok", "clock", "not synchronised, trusted anyway ([daemon.clock] require_sync = false)")
    return Finding("fix", "clock", "not synchronised since boot: the lane will report an untrusted clock; "
                   "`sudo timedatectl set-ntp true` with an NTP server the device reaches "
                   "(/etc/systemd/timesyncd.conf), or for an offline site with a battery-backed RTC "
                   "set [daemon.clock] require_sync = false")  # fmt: skip


def check_disk(path: Path, minimum: int = MIN_FREE_BYTES) -> Finding:
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    usage = shutil.disk_usage(directory)
    text = f"{usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.1f} GB at {directory}"
    if usage.free < minimum:
        return Finding("fix", "disk", f"{text}: below {minimum / 1e6:.0f} MB, free some space")
    return Finding("ok", "disk", text)


def check_ledger(path: Path) -> Finding:
    if not path.exists():
        return Finding("fix", "ledger", f"no ledger at {path} yet: import the venue's export "
                       "(gate ledger import FILE) or let sync fill it")  # fmt: skip
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error as exc:
        return Finding("fix", "ledger", f"cannot open {path}: {exc}")
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if application_id != APPLICATION_ID:
            return Finding("fix", "ledger", f"{path} is not a gate ledger")
        check = conn.execute("PRAGMA quick_check").fetchall()
        entitlements = conn.execute("SELECT count(*) FROM entitlement").fetchone()[0]
        holds = conn.execute(OPEN_HOLD_COUNT).fetchone()[0]
    except sqlite3.Error as exc:
        if "malformed" in str(exc) or "not a database" in str(exc):
            return Finding("fix", "ledger", f"{path} is damaged ({exc}): restore a backup or re-import")
        hint = f" (as user {_user()}: run as the gate user, `sudo -u gate gate doctor`)" if "open" in str(exc) else ""
        return Finding("fix", "ledger", f"cannot read {path}: {exc}{hint}")
    finally:
        conn.close()
    if check != [("ok",)]:
        problems = "; ".join(str(row[0]) for row in check[:3])
        return Finding("fix", "ledger", f"{path} is damaged ({problems}): restore a backup or re-import")
    if version > SCHEMA_VERSION:
        return Finding("fix", "ledger", f"schema {version} is newer than this gate knows ({SCHEMA_VERSION}): upgrade")
    later = "" if version == SCHEMA_VERSION else f" (upgraded to {SCHEMA_VERSION} at the next start)"
    return Finding("ok", "ledger", f"{path}: quick_check ok, schema {version}{later}, "
                   f"{entitlements} entitlement(s), {holds} hold(s) open")  # fmt: skip


def check_service_user(name: str = SERVICE_USER) -> Finding:
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        return Finding("fix", "user", f"no {name!r} user: create it with systemd/gate.sysusers (docs/install.md)")
    groups = {g.gr_name for g in grp.getgrall() if name in g.gr_mem} | {grp.getgrgid(user.pw_gid).gr_name}
    existing = [g for g in SERVICE_GROUPS if _group_exists(g)]
    missing = [g for g in existing if g not in groups]
    if missing:
        return Finding("fix", "user", f"{name} is not in {', '.join(missing)}: sudo usermod -aG {','.join(missing)} "
                       f"{name}")  # fmt: skip
    return Finding("ok", "user", f"{name} exists, in groups {', '.join(sorted(groups & set(existing))) or '-'}")


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def check_daemon(config: GateConfig) -> Finding:
    try:
        answer = request(config.daemon.control_socket, {"op": "status"}, timeout=3)
    except DaemonUnreachable as exc:
        return Finding("info", "daemon", str(exc))
    if not answer.get("ok"):
        return Finding("info", "daemon", f"answers but: {answer.get('error')}")
    status = answer["status"]
    health = "healthy" if status["health"]["ok"] else "UNHEALTHY"
    return Finding("info", "daemon", f"running: lane {status['lane']['lane']} {status['lane']['mode']}, {health}")


def diagnose(path: Path) -> list[Finding]:
    """Every check, in the order an installer fixes things."""
    findings, config = check_config(path)
    findings.append(check_service_user())
    if config is None:
        findings.append(check_clock(None))
        return findings
    lane_finding, lane = check_lane(config)
    findings.append(lane_finding)
    findings.extend(check_gpio(config, lane))
    findings.extend(check_readers(config, lane))
    findings.append(check_clock(config))
    findings.append(check_disk(config.ledger.path))
    findings.append(check_ledger(config.ledger.path))
    findings.append(check_daemon(config))
    return findings
