"""The daemon on a big ledger: start-up to systemd READY, and resident memory while it decides.

    .venv/bin/python bench/daemon.py                          # 1M entitlements, 5M usage rows
    .venv/bin/python bench/daemon.py --entitlements 100000 --uses 500000 --dir /tmp/gate-bench

It builds the ledger once (kept in --dir for the next run), starts `gate run` as a real
process with mock pins and a serial scanner on a pty, and a real datagram socket as
NOTIFY_SOCKET. It times spawn -> READY=1 (median of several starts), then sends scans through
the pty and reads the daemon's resident memory (VmRSS, and the peak VmHWM) from /proc.
Baseline in the same run: the resident memory of a bare Python interpreter that imports
nothing of gate. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tty
from pathlib import Path

from decide import entitlement_lines, usage_rows

from gate.cache import Ledger
from gate.daemon.control import request

CONFIG = """
[site]
name = "Bench"
timezone = "Europe/Paris"
[zones.main]
name = "Main"
[lanes.l1]
zone = "main"
product = "entry"
directions = ["entry"]
[ledger]
path = "{ledger}"
[turnstile]
pin_factory = "mock"
passage_timeout_s = 1
[turnstile.entry]
relay = 17
sensor = 27
[readers.scan]
type = "serial"
lane = "l1"
port = "{port}"
dedupe_seconds = 0
[daemon]
lane = "l1"
control_socket = "{directory}/control.sock"
[daemon.clock]
require_sync = false
"""


def build(directory: Path, entitlements: int, uses: int) -> Path:
    ledger = directory / f"ledger-{entitlements}-{uses}.sqlite"
    if ledger.exists():
        return ledger
    lines = directory / "ledger.jsonl"
    with lines.open("w") as out:
        for line in entitlement_lines(entitlements):
            out.write(line + "\n")
    partial = ledger.with_suffix(".partial")
    with Ledger.open(partial) as opened:
        opened.import_file(lines)
        opened.bulk_insert_uses(usage_rows(uses, entitlements))
    partial.rename(ledger)
    lines.unlink()
    return ledger


def rss_kb(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def start(config: Path, directory: Path) -> tuple[subprocess.Popen[bytes], float, socket.socket]:
    notify_path = directory / "notify.sock"
    notify_path.unlink(missing_ok=True)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(60)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "10000000"}
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "gate", "--log-level", "WARNING", "run", "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    while True:
        message = notify.recv(4096).decode()
        if "READY=1" in message.split("\n"):
            return process, time.perf_counter() - began, notify


def wait_for_reader(control: Path) -> None:
    """READY does not wait for hardware (a camera may be missing); scans wait for the port."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        readers = request(control, {"op": "status"}).get("status", {}).get("readers", [])
        if readers and all(r.get("connected") for r in readers):
            return
        time.sleep(0.05)
    raise RuntimeError("the serial reader never connected")


def stop(process: subprocess.Popen[bytes], notify: socket.socket) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    notify.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entitlements", type=int, default=1_000_000)
    parser.add_argument("--uses", type=int, default=5_000_000)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--dir", type=Path, help="keeps the built ledger between runs (default: temporary)")
    args = parser.parse_args()
    if args.dir is None:
        with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
            run(Path(tmp), args)
    else:
        args.dir.mkdir(parents=True, exist_ok=True)
        run(args.dir, args)


def run(directory: Path, args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    ledger = build(directory, args.entitlements, args.uses)
    built = time.perf_counter() - t0
    master, slave = os.openpty()
    tty.setraw(master)
    config = directory / "gate.toml"
    config.write_text(CONFIG.format(ledger=ledger, port=os.ttyname(slave), directory=directory))

    ready: list[float] = []
    for _ in range(args.starts):
        process, seconds, notify = start(config, directory)
        ready.append(seconds)
        stop(process, notify)

    with Ledger.open(ledger) as opened:
        before = len(opened.journal(limit=10**9))
    process, _, notify = start(config, directory)
    wait_for_reader(directory / "control.sock")
    idle_rss, _ = rss_kb(process.pid)
    rnd = random.Random(5)
    codes = [f"R{i:07d}" for i in rnd.sample(range(args.entitlements), args.scans)]
    for code in codes:
        os.write(master, code.encode() + b"\r")
        time.sleep(0.002)  # a busy lane: a scan every few ms, far more than a turnstile passes
    time.sleep(2.0)
    busy_rss, peak = rss_kb(process.pid)
    stop(process, notify)
    with Ledger.open(ledger) as opened:
        # One row per scan ends its story (committed, released, refused); holds are steps on the way.
        decided = sum(1 for e in opened.journal(after=0, limit=10**9)[before:] if e.type != "redemption.held")

    baseline = subprocess.run(
        [sys.executable, "-c", "import re; print(open('/proc/self/status').read())"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    bare = int(next(line for line in baseline.splitlines() if line.startswith("VmRSS")).split()[1])

    print(f"ledger: {args.entitlements:,} entitlements, {args.uses:,} usage rows, "
          f"{ledger.stat().st_size / 2**20:.0f} MB ({f'built in {built:.0f} s' if built > 1 else 'reused'})")
    print(f"start-up to READY=1: median {statistics.median(ready):.2f} s, max {max(ready):.2f} s "
          f"over {args.starts} starts (target < 2 s)")
    print(f"resident memory: {idle_rss / 1024:.0f} MB ready, {busy_rss / 1024:.0f} MB after {args.scans} scans, "
          f"peak {peak / 1024:.0f} MB (target < 150 MB); bare Python interpreter {bare / 1024:.0f} MB")
    print(f"journal rows the daemon wrote for the {args.scans} scans: {decided} (each scan decided and recorded)")
    os.close(master)
    os.close(slave)


if __name__ == "__main__":
    main()
