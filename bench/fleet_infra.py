"""bench/fleet.py's real parts: a PostgreSQL cluster set as a server would be, venue brokers bridged
to a central one as docs/scale.md configures them, one `gate hub` process per venue, and what each
of them costs (CPU time, resident memory).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.configs import config_text
from tests.pg import Cluster
from tests.sync.broker import Broker

ROOT = Path(__file__).parents[1]
TICK = os.sysconf("SC_CLK_TCK")

# What the central broker is given, from docs/scale.md ("Queues and sessions"; bytes spelled out).
CENTRAL = """
persistent_client_expiration 14d
max_queued_messages 10000
max_queued_bytes 67108864
max_inflight_messages 100
message_size_limit 4194304
"""
# The venue box's bridge lines that speak of TLS and the bridge's password: the bench's brokers are
# on loopback, without either (said in the output).
_SECURE = ("remote_username", "remote_password", "bridge_cafile", "bridge_tls_version")


class Postgres(Cluster):
    """tests/pg.py's throwaway cluster, started again with a server's settings: durable commits
    (unless `durable` is false, as the tests run it), Debian's default shared_buffers, and room
    for every hub's connections."""

    def __init__(self, *, durable: bool) -> None:
        super().__init__()
        on = "on" if durable else "off"
        self.settings = {"listen_addresses": "127.0.0.1", "fsync": on, "synchronous_commit": on,
                         "full_page_writes": on, "max_connections": "400", "shared_buffers": "128MB"}  # fmt: skip

    def start(self) -> None:
        super().start()
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        options = " ".join(f"-c {key}={value}" for key, value in self.settings.items())
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                  "-o", f"-p {self.port} -k {self.dir} {options}", "start")  # fmt: skip

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and its children (backends, WAL writer...)."""
        master = int((self.data / "postmaster.pid").read_text().split()[0])
        return [master, *children(master)]

    def version(self) -> str:
        return self.bin.parent.name


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def cpu_s(pids: Iterable[int]) -> float:
    """User and system CPU seconds the processes used so far (those gone meanwhile count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def machine_busy_s() -> float:
    """CPU seconds every process of the machine used so far, all cores (the others' work included)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bridge_lines(site: str, central_port: int) -> str:
    """docs/scale.md's bridge for venue `site`, aimed at the central broker on loopback, without TLS
    and password (a page that no longer holds the block fails here)."""
    text = (ROOT / "docs" / "scale.md").read_text()
    block = text.split("`/etc/mosquitto/conf.d/uplink.conf`", 1)[1].split("```\n", 2)[1]
    assert "mqtt.example.net:8883" in block and "louvre" in block, "docs/scale.md: the bridge block changed"
    block = block.replace("louvre", site).replace("mqtt.example.net:8883", f"127.0.0.1:{central_port}")
    return "".join(line + "\n" for line in block.splitlines() if not line.startswith(_SECURE))


class Brokers:
    """The central broker and one venue broker per site, each bridged to it."""

    def __init__(self, sites: list[str]) -> None:
        self.central = Broker(bridge=CENTRAL)  # Broker writes these lines last, as it would a bridge's
        self.central.start()
        self.venues: dict[str, Broker] = {}
        for site in sites:
            box = Broker(bridge=bridge_lines(site, self.central.port))
            box.start()
            self.venues[site] = box

    def venue_pids(self) -> list[int]:
        return [box.process.pid for box in self.venues.values() if box.process is not None]

    def central_pid(self) -> int:
        assert self.central.process is not None
        return self.central.process.pid

    def close(self) -> None:
        for box in self.venues.values():
            box.close()
        self.central.close()


class Hubs:
    """One `gate hub` per venue, on the central broker and one PostgreSQL database."""

    def __init__(self, work: Path, sites: list[str], *, port: int, dsn: str) -> None:
        self.work = work
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())  # fmt: skip
        for name, data in (("hub.key", pem), ("hub.dsn", (dsn + "\n").encode())):
            (work / name).write_bytes(data)
            (work / name).chmod(0o600)
        public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for site in sites:
            config = work / f"{site}-hub.toml"
            config.write_text(config_text(
                {"ledger": {"path": "unused.sqlite"}},
                sync={"site": site, "port": port, "ledger_keys": {"hub": public}},
                hub={"store": f"{site}-hub.sqlite", "dsn_file": "hub.dsn", "ledger_key_file": "hub.key"},
            ))  # fmt: skip
            with (work / f"{site}-hub.log").open("wb") as log:
                self.processes[site] = subprocess.Popen(
                    [sys.executable, "-m", "gate", "hub", "--config", str(config)], stdout=log,
                    stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                )  # fmt: skip

    def log(self, site: str) -> str:
        return (self.work / f"{site}-hub.log").read_text(errors="replace")

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = set(self.processes)
        while waiting:
            for site in list(waiting):
                if self.processes[site].poll() is not None:
                    raise SystemExit(f"gate hub {site} exited: {self.log(site)[-2000:]}")
                if "connected to" in self.log(site):
                    waiting.discard(site)
            if time.monotonic() > deadline:
                raise SystemExit(f"not ready within {timeout:.0f} s: the hubs of {', '.join(sorted(waiting))}")
            time.sleep(0.2)

    def pids(self, sites: Iterable[str] | None = None) -> list[int]:
        return [self.processes[site].pid for site in (self.processes if sites is None else sites)]

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
