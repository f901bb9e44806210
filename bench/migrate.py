"""A big ledger of the previous schema opened by this version: its backup and migration, timed
beside a plain copy of the same file, in one run.

    .venv/bin/python bench/migrate.py                                  # 1M entitlements, 1M uses, 1M peer uses
    .venv/bin/python bench/migrate.py --entitlements 100000 --uses 100000 --peer-uses 100000 --dir /tmp/gate-bench

It builds a ledger through the real import (kept in --dir for the next run), loads usage rows and
peers' uses (a snapshot fills peer_use with the site's usage), then takes it back to the previous
schema (DOWNGRADE: the last migration undone). Each figure runs on a fresh copy of that file:

- the floor: a plain copy of the file (shutil.copyfile, the page cache warm as for the others);
- the backup alone (gate/cache/upgrade.py's, SQLite's online backup in steps, synced);
- the migration alone (its steps, no backup);
- what a gate does at start: `Ledger.open` with a NOTIFY_SOCKET listener, the backup then the
  migration, and how many EXTEND_TIMEOUT_USEC messages systemd would have had.

Figures go to docs/scale.md ("Rolling upgrades").
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from decide import NOW, entitlement_lines, usage_rows

from gate.cache import SCHEMA_VERSION, Ledger, schema, upgrade
from gate.daemon.systemd import Notifier

# How to take a ledger of this version's schema back to the one before: the last migration undone.
# A new migration adds its own undoing here (the bench says so when it is missing).
DOWNGRADE: dict[int, list[str]] = {6: ["DROP INDEX peer_use_held"]}


def build(directory: Path, entitlements: int, uses: int, peer_uses: int) -> Path:
    """The ledger at the previous schema, built once per size and kept."""
    previous = SCHEMA_VERSION - 1
    ledger = directory / f"ledger-{entitlements}-{uses}-{peer_uses}-schema{previous}.sqlite"
    if ledger.exists():
        return ledger
    if SCHEMA_VERSION not in DOWNGRADE:
        raise SystemExit(f"bench/migrate.py: no DOWNGRADE for schema {SCHEMA_VERSION}: add its migration's undoing")
    lines = directory / "ledger.jsonl"
    with lines.open("w") as out:
        for line in entitlement_lines(entitlements):
            out.write(line + "\n")
    partial = ledger.with_suffix(".partial")
    with Ledger.open(partial) as opened:
        opened.import_file(lines)
        opened.bulk_insert_uses(usage_rows(uses, entitlements))
    lines.unlink()
    conn = sqlite3.connect(partial, isolation_level=None)
    rnd = random.Random(13)
    start = NOW.timestamp() - 30 * 86400
    rows = ((f"e{rnd.randrange(entitlements)}", f"p-{n}", 0, start + rnd.random() * 30 * 86400, "entry", 1, 0,
             None, None, None, "l9", "main", 1 if n % 1000 == 0 else 0, start + 31 * 86400)
            for n in range(peer_uses))  # fmt: skip
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO peer_use VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    for statement in DOWNGRADE[SCHEMA_VERSION]:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {previous}")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    partial.rename(ledger)
    return ledger


class Listener:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET; counts what arrives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.05)
        self.messages: list[str] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._done.is_set():
            try:
                self.messages.append(self._sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        time.sleep(0.1)
        self._done.set()
        self._thread.join(1)
        self._sock.close()


def fresh(source: Path, work: Path) -> Path:
    for old in work.glob("ledger.sqlite*"):
        old.unlink()
    target = work / "ledger.sqlite"
    shutil.copyfile(source, target)
    return target


def timed(prepare: Callable[[], Path], run: Callable[[Path], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        path = prepare()
        t0 = time.perf_counter()
        run(path)
        samples.append(time.perf_counter() - t0)
    return samples


def migrate_only(path: Path) -> None:
    with upgrade.without_backup():
        Ledger.open(path).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entitlements", type=int, default=1_000_000)
    parser.add_argument("--uses", type=int, default=1_000_000)
    parser.add_argument("--peer-uses", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
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
    source = build(directory, args.entitlements, args.uses, args.peer_uses)
    size = source.stat().st_size / 1e6
    print(f"ledger: {args.entitlements:,} entitlements, {args.uses:,} uses, {args.peer_uses:,} peer uses, "
          f"schema {SCHEMA_VERSION - 1}, {size:,.0f} MB (ready in {time.perf_counter() - t0:.0f} s)")
    work = directory / "work"
    work.mkdir(exist_ok=True)
    copy_target = work / "copy.sqlite"

    def plain_copy(path: Path) -> None:
        shutil.copyfile(path, copy_target)
        with copy_target.open("rb+") as out:
            os.fsync(out.fileno())  # as the backup is synced
        copy_target.unlink()

    def backup_only(path: Path) -> None:
        made = upgrade.backup(path, SCHEMA_VERSION - 1)
        made.unlink()

    extends: list[int] = []

    def as_a_gate_starts(path: Path) -> None:
        listener = Listener(work / "notify.sock")
        notifier = Notifier(str(listener.path))
        try:
            with upgrade.reporting(lambda status: notifier.extend(upgrade.EXTEND_S, status)):
                Ledger.open(path).close()
        finally:
            notifier.close()
            listener.close()
            (work / "notify.sock").unlink()
        extends.append(sum("EXTEND_TIMEOUT_USEC=" in m for m in listener.messages))
        assert schema.SCHEMA_VERSION == SCHEMA_VERSION and len(upgrade.backups(path)) == 1

    prepare = lambda: fresh(source, work)  # noqa: E731
    rows = [
        ("plain copy of the file (floor)", timed(prepare, plain_copy, args.repeat)),
        ("backup alone (SQLite backup, synced)", timed(prepare, backup_only, args.repeat)),
        (f"migration {SCHEMA_VERSION - 1} -> {SCHEMA_VERSION} alone", timed(prepare, migrate_only, args.repeat)),
        ("a gate's start: backup + migration", timed(prepare, as_a_gate_starts, args.repeat)),
    ]
    floor = statistics.median(rows[0][1])
    print(f"{'':40} {'median':>9} {'max':>9} {'x floor':>8}")
    for name, samples in rows:
        median = statistics.median(samples)
        print(f"{name:40} {median:8.2f}s {max(samples):8.2f}s {median / floor:7.1f}x")
    print(f"EXTEND_TIMEOUT_USEC messages per start: {extends} (one at each phase, then every "
          f"{upgrade.REPORT_EVERY_S:g} s); each extends the start by {upgrade.EXTEND_S:g} s")
    for old in work.glob("*"):
        old.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
