"""A snapshot switched in on a new gate, against a raw bulk insert of the same rows, in one run.

    .venv/bin/python bench/snapshot.py                          # 1M entitlements
    .venv/bin/python bench/snapshot.py --entitlements 100000 --reads 1000
    .venv/bin/python bench/sync.py --snapshot                   # the same, from the sync bench

Real parts, as on a site: the venue's file (bench/decide.py's mix) published into the hub's log
(`gate hub publish`: its copy of the ledger and signed batches; setup, not timed against
anything), then Debian's Mosquitto on a free loopback port, `gate hub` and a new device's `gate
sync` as processes. The device takes the hub's snapshot; the figures come from their logs:

- **build**: the hub reading its copy of the ledger, cutting, compressing and storing the chunks;
- **apply**: at the gate, from the manifest's arrival to the switch: every chunk asked for,
  checked (SHA-256), inflated, parsed and staged in ~15 ms transactions, the row counts and
  shapes checked, and the switch;
- **switch**: the switch's one transaction, commit and sync included;
- **floor**: the same rows (records, tombstones, entitlements, codes) bulk-inserted into a
  fresh ledger's tables in one transaction and synced, in this process, before the rest.

A second new device then takes the same snapshot while a lane on its ledger (in this process,
its own connection) decides all the time (unknown codes until the switch: refusals, journaled):
the load goes gently while a lane writes, and the lane's decision times during it, beside the
same lane's when idle, show what the load's transactions cost it.

Then, unless `--reads 0`: the lane's read-to-relay (bench/lane.py's DecisionPoint on mock pins)
while another process applies batches of 10 000 records to the same ledger, one after another
(as gate sync applies a batch: one import transaction each), beside the same lane idle.

Target (design): the apply within 1.5x of the floor. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from decide import entitlement_lines  # noqa: E402 - bench/, the script's own folder
from lane import CONFIG as LANE_CONFIG  # noqa: E402
from lane import measure, ticket_lines  # noqa: E402

from gate.cache import Ledger  # noqa: E402
from gate.cache.schema import connect  # noqa: E402
from gate.config import load_config, parse_config  # noqa: E402
from gate.engine import Engine  # noqa: E402
from gate.hub.conflicts import mirror_path  # noqa: E402
from gate.hub.publish import publish  # noqa: E402
from tests.configs import config_text  # noqa: E402
from tests.sync.broker import Broker  # noqa: E402

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_TABLES = {
    "record": "SELECT type, id, version, body FROM record ORDER BY type, id",
    "tombstone": "SELECT type, id, version FROM tombstone ORDER BY type, id",
    "entitlement": "SELECT id, version, kind, holder, mode, state, purchased_at, predecessor, body FROM entitlement "
    "ORDER BY id",
    "reference": "SELECT code, entitlement_id FROM reference ORDER BY code, entitlement_id",
}
# A batch of 10 000 records for the applier process: holders, a higher version each time.
_APPLIER = """
import json, sys, time
from gate.cache import Ledger
with Ledger.open(sys.argv[1], create=False) as ledger:
    for version in range(1, 10_000):
        lines = [json.dumps({"type": "header", "format": "gate-ledger", "version": 1})]
        lines += [json.dumps({"type": "holder", "id": f"h{n}", "version": version, "display_name": "Ann B."})
                  for n in range(10_000)]
        ledger.import_lines(lines, source=f"batch {version}")
        print(version, flush=True)
"""


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


def stamp(log: str, pattern: str) -> float:
    """The epoch time of the first line of `log` matching `pattern`."""
    for line in log.splitlines():
        if re.search(pattern, line) and (found := _STAMP.match(line)):
            return dt.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    raise SystemExit(f"no line matching {pattern!r} in the log")


def floor(mirror: Path, target: Path) -> tuple[float, int]:
    """The raw bulk insert of the snapshot's record rows into a fresh ledger: (seconds, rows)."""
    with sqlite3.connect(f"{mirror.absolute().as_uri()}?mode=ro", uri=True) as source:
        rows = {table: source.execute(query).fetchall() for table, query in _TABLES.items()}
    db = connect(target, create=True)
    try:
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for table, found in rows.items():
            if found:
                db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(found[0]))})", found)
        db.execute("COMMIT")
        fd = os.open(f"{target}-wal", os.O_RDONLY)
        os.fdatasync(fd)
        os.close(fd)
        return time.perf_counter() - started, sum(len(found) for found in rows.values())
    finally:
        db.close()


class Lane(threading.Thread):
    """A lane deciding all the time on the device's ledger (its own connection): (at, seconds) each."""

    def __init__(self, config: Path, ledger: Path) -> None:
        super().__init__(daemon=True)
        self._config, self._ledger = config, ledger
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.failed: BaseException | None = None

    def run(self) -> None:
        try:
            with Ledger.open(self._ledger) as ledger:
                engine = Engine(ledger, load_config(self._config))
                n = 0
                while not self.stop.is_set():
                    started = time.perf_counter()
                    outcome = engine.admit(f"R{n:07d}", lane="l1", at=dt.datetime.now(dt.UTC))
                    took = time.perf_counter() - started
                    if outcome.redemption is not None:
                        engine.release(outcome.redemption, at=dt.datetime.now(dt.UTC), why="bench")
                    self.samples.append((time.time(), took))
                    n += 1
                    time.sleep(0.002)
        except BaseException as exc:
            self.failed = exc


def snapshot(work: Path, entitlements: int) -> None:
    key = Ed25519PrivateKey.generate()
    (work / "hub.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))  # fmt: skip
    (work / "hub.key").chmod(0o600)
    public = base64.b64encode(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                            serialization.PublicFormat.Raw)).decode()  # fmt: skip
    broker = Broker(persistence=False)
    broker.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        sync = {"site": "bench", "port": broker.port}
        hub_config = work / "hub.toml"
        hub_config.write_text(config_text({"ledger": {"path": "unused.sqlite"}, "sync": sync,
                                           "hub": {"store": "hub.sqlite", "ledger_key_file": "hub.key"}}))  # fmt: skip
        lines = work / "venue.jsonl"
        lines.write_text("".join(line + "\n" for line in entitlement_lines(entitlements)))
        started = time.perf_counter()
        batches = publish(load_config(hub_config), lines).batches
        print(f"setup: {entitlements} entitlements published into the hub's log in {time.perf_counter() - started:.1f} "
              f"s ({len(batches)} batches)")  # fmt: skip
        floor_s, rows = floor(mirror_path(work / "hub.sqlite"), work / "floor.sqlite")

        def run(verb: str, config: Path) -> Path:
            log = work / f"{config.stem}-{verb}.log"
            with log.open("wb") as out:
                processes.append(subprocess.Popen([sys.executable, "-m", "gate", verb, "--config", str(config)],
                                                  stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                                  env={**os.environ, "PYTHONUNBUFFERED": "1"}))  # fmt: skip
            return log

        hub_log = run("hub", hub_config)
        lines_out: list[str] = []
        for name, with_lane in (("d1", False), ("d2", True)):  # d2: the same snapshot, its lane deciding
            device = work / f"{name}.toml"
            device.write_text(config_text({"ledger": {"path": f"{name}.sqlite"}, "device": {"id": name},
                                           "sync": {**sync, "ledger_keys": {"hub": public}}}))  # fmt: skip
            Ledger.open(work / f"{name}.sqlite").close()  # a new gate: an empty ledger
            lane = Lane(device, work / f"{name}.sqlite") if with_lane else None
            if lane is not None:
                lane.start()
                time.sleep(2.0)  # the lane idle a while first: its own figures
            sync_log = run("sync", device)
            deadline = time.monotonic() + 1800
            while "taken: batch" not in sync_log.read_text():
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise SystemExit(f"no snapshot taken; see {sync_log} and {hub_log}")
                time.sleep(0.2)
            text = sync_log.read_text()
            arrived, switched = stamp(text, r"snapshot \w+ of batch"), stamp(text, r"switched in")
            switch_ms = float(re.search(r"switched in ([\d.]+) ms", text).group(1))  # type: ignore[union-attr]
            if lane is None:
                apply_s = switched - arrived
                lines_out.append(f"apply at the gate       {apply_s:7.2f} s   x{apply_s / floor_s:.2f} the floor "
                                 "(manifest in -> switched, transfer included)")  # fmt: skip
                lines_out.append(f"switch                  {switch_ms:7.1f} ms  one transaction, commit and sync")
                continue
            lane.stop.set()
            lane.join()
            if lane.failed is not None:
                raise SystemExit(f"the lane failed: {lane.failed!r}")
            lines_out.append(f"apply, lane deciding    {switched - arrived:7.2f} s   (gentle transactions while it "
                             f"writes); switch {switch_ms:.1f} ms")  # fmt: skip
            idle = [took * 1e3 for at, took in lane.samples if at < arrived - 1.0]
            loading = [took * 1e3 for at, took in lane.samples if arrived <= at < switched]
            lines_out.append(f"{'lane decide+hold, ms':24}{'p50':>7}{'p99':>8}{'max':>8}{'n':>7}")
            for label, samples in (("  idle", idle), ("  during the load", loading)):
                if samples:
                    p50, p99, top = percentiles(samples)
                    lines_out.append(f"{label:24}{p50:7.2f}{p99:8.2f}{top:8.1f}{len(samples):7d}")
        built = re.search(r"built in ([\d.]+) s: (\d+) chunk", hub_log.read_text())
        assert built is not None
        with contextlib.closing(sqlite3.connect(work / "hub.sqlite")) as store:
            size = sum(len(bytes(data)) for (data,) in store.execute("SELECT data FROM snapshot_chunk"))
        print(f"{entitlements} entitlements, {rows} rows; Mosquitto on 127.0.0.1:{broker.port}")
        print(f"hub build               {float(built.group(1)):7.2f} s   {built.group(2)} chunks, {size / 1e6:.1f} MB "
              "compressed")  # fmt: skip
        print(f"floor: raw bulk insert  {floor_s:7.2f} s   the same rows, one transaction, synced")
        print("\n".join(lines_out))
        apply_s = float(lines_out[0].split()[4])
        print(f"target: apply within 1.5x the floor: {'met' if apply_s <= 1.5 * floor_s else 'not met'}")
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
        broker.close()


def lane_during_batches(work: Path, reads: int) -> None:
    """Read-to-relay at a lane, idle and while another process applies batches of 10 000 records."""
    path = work / "lane.sqlite"
    config = LANE_CONFIG.format(path=path)
    figures: dict[str, list[float]] = {}
    for phase in ("idle", "batches"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        with Ledger.open(path) as ledger:
            ledger.import_lines(ticket_lines(2 * reads), source="bench")
            applier = None
            if phase == "batches":
                applier = subprocess.Popen([sys.executable, "-c", _APPLIER, str(path)], stdout=subprocess.PIPE,
                                           cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
                assert applier.stdout is not None
                applier.stdout.readline()  # the first batch is in: the applier is under way
            try:
                results = asyncio.run(measure(Engine(ledger, parse_config(config)), config, reads))
            finally:
                if applier is not None:
                    applier.terminate()
                    applier.wait(timeout=30)
            figures[phase] = [took * 1e3 for took in results["lane"]]
    print(f"{'read -> relay, ms':36}{'p50':>7}{'p99':>8}{'max':>8}")
    for phase, name in (("idle", "  idle"), ("batches", "  while batches of 10 000 apply")):
        p50, p99, top = percentiles(figures[phase])
        print(f"{name:36}{p50:7.2f}{p99:8.2f}{top:8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entitlements", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=2000, help="read-to-relay samples per phase (0: none)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gate-bench-snapshot-") as tmp:
        snapshot(Path(tmp), args.entitlements)
        if args.reads:
            lane_during_batches(Path(tmp), args.reads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
