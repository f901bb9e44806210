"""Decision plus durable commit on a big ledger, against the raw SQLite floor, in one run.

    .venv/bin/python bench/decide.py                      # 1M entitlements, 5M usage rows
    .venv/bin/python bench/decide.py --entitlements 100000 --uses 500000 --samples 500

It builds a ledger of mixed entitlement kinds through the real import (timed against a raw
bulk insert of the same rows), loads the usage rows, then measures side by side:
the floor (an indexed lookup; an insert + commit with synchronous=FULL), gate's bare decision,
gate's one-step decision + durable commit (`gate check --commit`), and the lane's path
(decide + hold, then durable commit); then, on a copy of the ledger, each recording path's
own SQL statements with none of gate's Python around them (what SQLite alone takes of the
ratio). Floor and gate samples alternate, one of each in turn, so both see the same disk
and the same load from the rest of the machine; each gate figure's ratio is to the floor
samples taken beside it, so the ratios hold even when the absolute figures drift from one
figure's minutes to the next. Between two samples of the recording paths it calls
`Ledger.checkpoint()` untimed, as the daemon's idle task does, and prints those calls' own
p50/p99 (all calls, and the ones that did checkpoint). It prints p50/p99, ratios to the
floor, and resident memory. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from gate.cache import Ledger
from gate.cache.ledger import CHECKPOINT_AFTER_COMMITS
from gate.cache.redemptions import _INSERT_JOURNAL
from gate.cache.schema import connect
from gate.cache.sql import FIND
from gate.config import parse_config
from gate.decision import Use
from gate.engine import Engine

TZ = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 6, 15, 14, 0, tzinfo=TZ)
AT = NOW.astimezone(dt.UTC)  # the same instant as a lane's clock gives it (gate/point/point.py)
CONFIG = """
[site]
name = "Bench"
timezone = "Europe/Paris"
[zones.main]
name = "Main"
[lanes.l1]
zone = "main"
product = "entry"
[ledger]
path = "{path}"
"""


def entitlement_lines(count: int, seed: int = 7) -> Iterator[str]:
    """A venue-like mix: memberships, tickets, credits, subscriptions, reservations, vouchers."""
    rnd = random.Random(seed)
    yield json.dumps({"type": "header", "format": "gate-ledger", "version": 1})
    yield json.dumps({"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500})
    yield json.dumps({"type": "product", "id": "year", "version": 1, "name": "Year", "validity": {"years": 1}})
    yield json.dumps({"type": "event", "id": "show", "version": 1, "name": "Show"})
    yield json.dumps({"type": "performance", "id": "perf", "version": 1, "event": "show",
                      "starts_at": NOW.replace(hour=14, minute=30).isoformat()})
    for i in range(count):
        holder = f"h{i // 3}"
        references = [f"R{i:07d}", f"OLD{i:07d}"] if i % 50 == 0 else [f"R{i:07d}"]
        base = {"type": "entitlement", "id": f"e{i}", "version": 1, "references": references}
        pick = i % 10
        record: dict[str, object]
        if pick < 4:
            record = {**base, "kind": "membership", "holder": holder, "product": "year",
                      "valid_from": (NOW.date() - dt.timedelta(days=rnd.randrange(300))).isoformat()}
        elif pick < 7:
            record = {**base, "kind": "ticket", "day": NOW.date().isoformat(), "pax": 1 + rnd.randrange(4)}
        elif pick == 7:
            record = {**base, "kind": "credit_membership", "holder": holder, "credits": 10,
                      "eligible_products": ["entry"], "purchase_tz": "Europe/Paris",
                      "purchased_at": (NOW - dt.timedelta(days=rnd.randrange(200))).isoformat(),
                      "expires_on": (NOW.date() + dt.timedelta(days=200)).isoformat()}
        elif pick == 8:
            record = {**base, "kind": "voucher", "events": ["show"], "expires_on": "2027-01-01"}
        else:
            record = {**base, "kind": "reservation", "performance": "perf", "pax": 2, "paid": True,
                      "booked_at": (NOW - dt.timedelta(days=3)).isoformat(), "confirm": {"days_after_booking": 5}}
        yield json.dumps(record)


def usage_rows(count: int, entitlements: int, seed: int = 11) -> Iterator[Use]:
    """Committed entry uses spread over the last year (members visiting, tickets used)."""
    rnd = random.Random(seed)
    start = NOW.timestamp() - 365 * 86400
    for _ in range(count):
        at = start + rnd.random() * 364 * 86400
        yield Use(f"e{rnd.randrange(entitlements)}", at, "entry", 1, 0, None, None, None, "l1", "main", False)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(fn: Callable[[], object], samples: int, between: Callable[[], object] | None = None) -> list[float]:
    """Each call's time in us; `between` runs after each one, untimed (what an idle lane does)."""
    out: list[float] = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
        if between is not None:
            between()
    return out


class Floor:
    """Bare SQLite on the same rows: a bulk insert, then one sample at a time of an indexed
    lookup and a durable insert (interleaved with gate's samples by the caller)."""

    def __init__(self, directory: Path, lines_file: Path) -> None:
        self.db = db = sqlite3.connect(directory / "floor.sqlite", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE e (id TEXT PRIMARY KEY, kind TEXT, body TEXT)")
        db.execute("CREATE TABLE r (code TEXT, id TEXT, PRIMARY KEY (code, id)) WITHOUT ROWID")
        db.execute("CREATE TABLE u (n INTEGER PRIMARY KEY, id TEXT, at REAL, persons INT)")
        t0 = time.perf_counter()
        db.execute("BEGIN")
        rows: list[tuple[str, str, str]] = []
        refs: list[tuple[str, str]] = []
        with lines_file.open() as lines:
            for line in lines:
                record = json.loads(line)
                if record.get("type") != "entitlement":
                    continue
                rows.append((record["id"], record["kind"], line))
                refs.extend((code, record["id"]) for code in record["references"])
        db.executemany("INSERT INTO e VALUES (?, ?, ?)", rows)
        db.executemany("INSERT INTO r VALUES (?, ?)", refs)
        db.execute("COMMIT")
        self.bulk_s = time.perf_counter() - t0
        self.count = len(rows)
        self.rnd = random.Random(5)
        self.phase = ""  # which gate figure the samples are taken beside
        self.lookup: dict[str, list[float]] = {}
        self.commit: dict[str, list[float]] = {}

    def sample(self) -> None:
        code = f"R{self.rnd.randrange(self.count):07d}"
        t0 = time.perf_counter_ns()
        self.db.execute("SELECT id FROM r WHERE code = ?", (code,)).fetchall()
        t1 = time.perf_counter_ns()
        self.db.execute("BEGIN")
        self.db.execute("INSERT INTO u (id, at, persons) VALUES (?, ?, 1)", ("e1", time.time()))
        self.db.execute("COMMIT")
        t2 = time.perf_counter_ns()
        self.lookup.setdefault(self.phase, []).append((t1 - t0) / 1000)
        self.commit.setdefault(self.phase, []).append((t2 - t1) / 1000)

    def p50(self, phase: str) -> float:
        """The floor's median beside one gate figure: lookup + commit."""
        return percentiles(self.lookup[phase])[0] + percentiles(self.commit[phase])[0]

    def close(self) -> None:
        self.db.close()


class RawStatements:
    """Gate's own SQL statements on a copy of its ledger, with none of gate's Python around
    them: what SQLite alone costs on each recording path, so the share of the ratio that no
    Python can remove is measured in the same run."""

    # A membership's journal row is about this long (its hold's 478 characters, its commit's 489).
    BODY = "x" * 485

    def __init__(self, ledger: Path, copy: Path, codes: list[str]) -> None:
        with contextlib.closing(sqlite3.connect(ledger)) as src, contextlib.closing(sqlite3.connect(copy)) as dst:
            src.backup(dst)
        self.db = connect(copy, create=False)  # gate's own pragmas: WAL, synchronous=NORMAL, its cache
        self.codes = codes
        self.rnd = random.Random(9)
        self.writes = 0
        self._write(find=False, durable=False)  # creates the WAL file, which the sync opens
        self.wal = os.open(f"{copy}-wal", os.O_RDONLY)
        # A WAL as a running ledger has it: grown once, then written over from its start
        # after each checkpoint (an fsync that also grows the file costs about twice as much).
        while self.writes < CHECKPOINT_AFTER_COMMITS:
            self._write(find=False, durable=False)
        self.idle()

    def _write(self, *, find: bool, durable: bool) -> None:
        """One write transaction as gate's: BEGIN IMMEDIATE, PRAGMA data_version, the code's
        lookup when it decides, a journal row, COMMIT, and its own fdatasync when durable."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute("PRAGMA data_version").fetchone()
        if find:
            db.execute(FIND, (self.codes[self.rnd.randrange(len(self.codes))],)).fetchall()
        ids = f"{time.time_ns():016x}{self.rnd.getrandbits(64):016x}"
        db.execute(_INSERT_JOURNAL, (ids, time.time(), "redemption.held", "l1", "e1", ids, "ok", self.BODY, 0))
        db.execute("COMMIT")
        if durable:
            os.fdatasync(self.wal)
        self.writes += 1

    def one_step(self) -> None:
        self._write(find=True, durable=True)

    def lane(self) -> None:
        self._write(find=True, durable=False)
        self._write(find=False, durable=True)

    def idle(self) -> None:
        """Checkpoint as often as gate's idle task does, and start the WAL over as it does
        (`Ledger.checkpoint(prime=True)`)."""
        if self.writes >= CHECKPOINT_AFTER_COMMITS:
            busy, frames, copied = self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy == 0 and 0 < frames == copied:
                self._write(find=False, durable=True)
            self.writes = 0

    def close(self) -> None:
        os.close(self.wal)
        self.db.close()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entitlements", type=int, default=1_000_000)
    parser.add_argument("--uses", type=int, default=5_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--dir", type=Path, help="where to build (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-", dir=args.dir) as tmp:
        run(Path(tmp), args.entitlements, args.uses, args.samples)


def run(directory: Path, entitlements: int, uses: int, samples: int) -> None:
    lines_file = directory / "ledger.jsonl"
    with lines_file.open("w") as out:
        for line in entitlement_lines(entitlements):
            out.write(line + "\n")
    floor = Floor(directory, lines_file)

    path = directory / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        t0 = time.perf_counter()
        ledger.import_file(lines_file)
        import_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ledger.bulk_insert_uses(usage_rows(uses, entitlements))
        uses_s = time.perf_counter() - t0
    rss_before = rss_mb()

    config = parse_config(CONFIG.format(path=path))
    rnd = random.Random(3)
    # Memberships (i % 10 < 4) without limits: each scan is an admit and a durable commit.
    members = [f"R{i:07d}" for i in rnd.sample(range(0, entitlements, 10), min(samples * 3, entitlements // 10))]
    pools = iter(members)
    calls: list[float] = []  # every idle-time checkpoint call, most of which have nothing to do
    ran: list[float] = []  # the calls that did checkpoint
    with Ledger.open(path) as ledger:
        engine = Engine(ledger, config)
        engine.decide(members[0], lane="l1", at=AT)  # warm the schedule cache, as a running lane has
        ledger.checkpoint(force=True)  # the import's pages, as a restarted lane finds them done

        def idle() -> None:
            """The daemon's idle task between two scans: timed on its own, never within a sample."""
            t0 = time.perf_counter_ns()
            did = ledger.checkpoint()
            calls.append((time.perf_counter_ns() - t0) / 1000)
            if did:
                ran.append(calls[-1])

        def paired(between: Callable[[], object] | None = None) -> Callable[[], object]:
            """A floor sample after each of gate's, so both meet the same conditions."""

            def run() -> None:
                floor.sample()
                if between is not None:
                    between()

            return run

        floor.phase = "decide"
        decide = timed(lambda: engine.decide(members[rnd.randrange(len(members))], lane="l1", at=AT), samples,
                       paired())  # fmt: skip
        floor.phase = "one-step"
        one_step = timed(lambda: engine.redeem(next(pools), lane="l1", at=AT), samples, paired(idle))

        def lane_path() -> None:
            outcome = engine.admit(next(pools), lane="l1", at=AT)
            assert outcome.redemption is not None, outcome.decision
            engine.commit(outcome.redemption, at=AT)

        floor.phase = "lane"
        two_phase = timed(lane_path, samples, paired(idle))
        assert engine.decide(members[0], lane="l1", at=AT).decision.admits
    rss_after = rss_mb()
    raw = RawStatements(path, directory / "raw.sqlite", members)
    floor.phase = "raw one-step"
    raw_one_step = timed(raw.one_step, samples, paired(raw.idle))
    floor.phase = "raw lane"
    raw_lane = timed(raw.lane, samples, paired(raw.idle))
    raw.close()
    floor.close()

    lookup50, lookup99 = percentiles([t for phase in floor.lookup.values() for t in phase])
    commit50, commit99 = percentiles([t for phase in floor.commit.values() for t in phase])
    floor50, floor99 = lookup50 + commit50, lookup99 + commit99
    print(f"ledger: {entitlements:,} entitlements, {uses:,} usage rows; {samples} samples per gate figure, "
          f"each with as many floor samples interleaved")  # fmt: skip
    print(f"import            {import_s:7.2f} s   raw bulk insert floor {floor.bulk_s:.2f} s "
          f"(x{import_s / floor.bulk_s:.2f}); usage rows loaded in {uses_s:.2f} s")
    print(f"{'':24}{'p50 us':>9}{'p99 us':>9}{'x floor p50':>13}{'floor p50 beside':>18}")
    print(f"{'floor: indexed lookup':<26}{lookup50:9.0f}{lookup99:9.0f}")
    print(f"{'floor: insert+commit FULL':<26}{commit50:9.0f}{commit99:9.0f}")
    print(f"{'floor: lookup+commit':<26}{floor50:9.0f}{floor99:9.0f}{1:12.2f}x   (all floor samples)")
    # Each gate figure against the floor samples taken beside it: the disk's speed drifts
    # over a run, and a figure is compared with the floor of its own minutes.
    for name, phase, figure in (
        ("gate decision only", "decide", decide),
        ("gate one-step (--commit)", "one-step", one_step),
        ("gate hold, then commit", "lane", two_phase),
        ("SQLite alone, one-step", "raw one-step", raw_one_step),
        ("SQLite alone, lane", "raw lane", raw_lane),
    ):
        p50, p99 = percentiles(figure)
        beside = floor.p50(phase)
        print(f"{name:<26}{p50:9.0f}{p99:9.0f}{p50 / beside:12.2f}x{beside:15.0f}")
    print(f"{'idle checkpoint, calls':<26}{percentiles(calls)[0]:9.0f}{percentiles(calls)[1]:9.0f}"
          f"   ({len(calls)} calls between the samples above, untimed there)")
    if ran:
        print(f"{'idle checkpoint, done':<26}{percentiles(ran)[0]:9.0f}{percentiles(ran)[1]:9.0f}"
              f"   ({len(ran)} of them checkpointed; max {max(ran):.0f} us)")
    print(f"resident memory   {rss_before:.0f} MB after loading, {rss_after:.0f} MB after deciding")


if __name__ == "__main__":
    main()
