"""The daemon as a real process: a config with mock pins and a serial scanner on a pty, a real
unix datagram socket as NOTIFY_SOCKET, and the control socket."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import signal
import socket
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gate.cli import main
from gate.daemon.control import request
from tests.configs import config_text

ROOT = Path(__file__).parents[2]


def lane_sections(port: str, *, timeout: float = 30.0) -> dict[str, Any]:
    """The daemon's lane l1 (entry only; a second lane l2 beside it): mock pins, a serial scanner on
    `port`, the control socket beside the config, quick watchdog checks, no time sync needed."""
    return {
        "lanes": {"l1": {"product": "entry", "directions": ["entry"]}, "l2": {"zone": "main"}},
        "turnstile": {"pin_factory": "mock", "passage_timeout_s": timeout, "entry": {"relay": 17, "sensor": 27}},
        "readers": {"scan": {"type": "serial", "lane": "l1", "port": port, "dedupe_seconds": 0}},
        "daemon": {
            "lane": "l1",
            "control_socket": "run/control.sock",
            "watchdog": {"max_loop_lag_s": 0.5, "ledger_check_s": 0.5},
            "clock": {"require_sync": False},
        },
    }


def lane_config(port: str, *layers: Mapping[str, Any], timeout: float = 30.0, **sections: Any) -> str:
    """The text of the daemon tests' config (`lane_sections`), with `layers` and `sections` merged in."""
    return config_text(lane_sections(port, timeout=timeout), *layers, **sections)


def ledger_lines() -> list[dict[str, Any]]:
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    return [
        {"type": "header", "format": "gate-ledger", "version": 1},
        {"type": "holder", "id": "h1", "version": 1, "display_name": "Marie Dupont"},
        {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500},
        {"type": "entitlement", "kind": "ticket", "id": "t-one", "version": 1, "holder": "h1", "day": today,
         "references": ["ONE"]},
    ]  # fmt: skip


@dataclass
class Venue:
    dir: Path
    config: Path
    scanner: int  # the pty master: what is written here is what the scanner sends
    port: str

    @property
    def socket(self) -> Path:
        return self.dir / "run" / "control.sock"

    @property
    def ledger(self) -> Path:
        return self.dir / "ledger.sqlite"

    def scan(self, code: str) -> None:
        os.write(self.scanner, code.encode() + b"\r")

    def ask(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One request on the running daemon's control socket."""
        return request(self.socket, payload)

    def gate(self, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`gate ARGV --config <this venue's>` as a command, `stdin` typed into it (a PIN)."""
        return subprocess.run(
            [sys.executable, "-m", "gate", *argv, "--config", str(self.config)],
            input=stdin, check=False, cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    def write_config(self, *layers: Mapping[str, Any], timeout: float = 30.0, extra: str = "", **sections: Any) -> None:
        """The lane's config (`lane_config`) with `layers` and `sections` merged in, then `extra` text."""
        self.config.write_text(lane_config(self.port, *layers, timeout=timeout, **sections) + extra)


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[Venue]:
    master, slave = pty.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    venue = Venue(tmp_path, tmp_path / "gate.toml", master, os.ttyname(slave))
    venue.write_config()
    lines = tmp_path / "ledger.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in ledger_lines()) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0
    yield venue
    os.close(master)
    os.close(slave)


@dataclass
class Notifications:
    """Datagrams received on NOTIFY_SOCKET, each with its arrival time (monotonic)."""

    path: Path
    messages: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fields(self, key: str) -> list[tuple[float, str]]:
        with self.lock:
            return [(t, line.split("=", 1)[1]) for t, m in self.messages for line in m.splitlines()
                    if line.startswith(f"{key}=")]  # fmt: skip

    def wait_for(self, key: str, value: str | None = None, *, after: float = 0.0, timeout: float = 10.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, found in self.fields(key):
                if at >= after and (value is None or found == value or found.startswith(value)):
                    return at
            time.sleep(0.02)
        raise AssertionError(f"no {key}={value or '*'} within {timeout} s; got {self.messages}")


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[Notifications]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.1)
    notes = Notifications(path)
    done = threading.Event()

    def collect() -> None:
        while not done.is_set():
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with notes.lock:
                notes.messages.append((time.monotonic(), data.decode()))

    thread = threading.Thread(target=collect, daemon=True)
    thread.start()
    yield notes
    done.set()
    thread.join(1)
    sock.close()


@dataclass
class DaemonProcess:
    process: subprocess.Popen[str]
    venue: Venue
    output: list[str] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        answer = request(self.venue.socket, {"op": "status"})
        assert answer["ok"], answer
        status: dict[str, Any] = answer["status"]
        return status

    def wait_until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if predicate(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"status never matched: {json.dumps(status)[:2000]}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    @property
    def log(self) -> str:
        return "".join(self.output)


Start = Callable[..., DaemonProcess]


@pytest.fixture
def start_daemon(venue: Venue) -> Iterator[Start]:
    started: list[DaemonProcess] = []

    def start(*, notify: Notifications | None = None, watchdog_usec: int | None = None,
              hooks: bool = False, args: tuple[str, ...] = ()) -> DaemonProcess:  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "GATE_TEST_HOOKS")}
        if notify is not None:
            env["NOTIFY_SOCKET"] = str(notify.path)
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        if hooks:
            env["GATE_TEST_HOOKS"] = "1"
        process = subprocess.Popen(
            [sys.executable, "-m", "gate", "run", "--config", str(venue.config), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        daemon = DaemonProcess(process, venue)
        assert process.stdout is not None
        stdout = process.stdout
        threading.Thread(target=lambda: daemon.output.extend(iter(stdout.readline, "")), daemon=True).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(5)


def wait_ready(daemon: DaemonProcess, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the control socket until the daemon serves and its scanner's port is open.

    The port must be open before a test scans: pyserial flushes what arrived before it opened.
    """
    _serving(daemon, timeout)
    return daemon.wait_until(lambda s: all(r["connected"] for r in s["readers"]), timeout)


def _serving(daemon: DaemonProcess, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise AssertionError(f"daemon exited {daemon.process.returncode}:\n{daemon.log}")
        if daemon.venue.socket.exists():
            try:
                return daemon.status()
            except Exception:
                pass
        time.sleep(0.05)
    raise AssertionError(f"daemon not serving after {timeout} s:\n{daemon.log}")
