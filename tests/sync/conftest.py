"""The sync tests' real parts: a Mosquitto broker, a device's ledger, `gate sync` and `gate hub` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger
from tests.configs import config_text
from tests.daemon.conftest import start_daemon, venue  # noqa: F401 - a lane daemon, for remote commands
from tests.sync.broker import Broker

ROOT = Path(__file__).parents[2]


@pytest.fixture
def broker() -> Iterator[Broker]:
    running = Broker()
    running.start()
    try:
        yield running
    finally:
        running.close()


@dataclass
class Process:
    """A `gate sync` or `gate hub` run: its output kept in a file (read with `log()`)."""

    process: subprocess.Popen[bytes]
    output: Path

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


@dataclass
class Site:
    """A site's configs: the hub's, and one per device (its own ledger), on one broker."""

    dir: Path
    broker: Broker
    processes: list[Process] = field(default_factory=list)

    def config(
        self, name: str, *, device: str | None = None, lanes: dict[str, Any] | None = None,
        hub: dict[str, Any] | None = None, **sync: Any,
    ) -> Path:  # fmt: skip
        path = self.dir / f"{name}.toml"
        sections: dict[str, Any] = {
            "ledger": {"path": f"{name}.sqlite"},
            "sync": {"site": "s1", "port": self.broker.port, "confirm_timeout_s": 2, "reconnect_max_s": 1,
                     "connect_timeout_s": 3, **sync},
            "hub": {"store": f"{name}-hub.sqlite", **(hub or {})},
            "daemon": {"control_socket": "control.sock"},
        }
        if device is not None:
            sections["device"] = {"id": device}
        if lanes is not None:
            sections["lanes"] = lanes
        path.write_text(config_text(sections))
        return path

    def kill_all(self) -> None:
        """What the test left running: killed, as a power cut would."""
        for process in self.processes:
            if process.process.poll() is None:
                process.process.kill()
                process.process.wait()

    def device(self, name: str, *, lanes: dict[str, Any] | None = None) -> tuple[Path, Ledger]:
        """A device's config and its ledger (created, open in the test process)."""
        config = self.config(name, device=name, lanes=lanes)
        return config, Ledger.open(self.dir / f"{name}.sqlite")

    def run(self, verb: str, config: Path) -> Process:
        output = self.dir / f"{config.stem}-{verb}-{len(self.processes)}.log"
        with output.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "gate", verb, "--config", str(config)], stdout=out, stderr=subprocess.STDOUT,
                cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        running = Process(process, output)
        self.processes.append(running)
        return running


@pytest.fixture
def site(tmp_path: Path, broker: Broker) -> Iterator[Site]:
    made = Site(tmp_path, broker)
    try:
        yield made
    finally:
        made.kill_all()


def until(condition: Callable[[], Any], *, timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what or condition}")
