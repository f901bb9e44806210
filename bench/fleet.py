"""The fleet: many lanes' events at peak hour, through venue brokers bridged to a central broker,
into `gate hub` processes on PostgreSQL: what they store, how soon each lane hears that its rows
are held, and what the hubs cost.

    nice -n 5 .venv/bin/python bench/fleet.py                      # 20 venues x 10 lanes, 60 s
    nice -n 5 .venv/bin/python bench/fleet.py --venues 5 --lanes 8 --duration 30 --saturate 0

Real parts: Debian's PostgreSQL (tests/pg.py's throwaway cluster, started again with durable
commits), Debian's Mosquitto as one central broker and one broker per venue, each bridged to it
with the configuration of docs/scale.md (MQTT v5; on loopback, without TLS or passwords), and one
`gate hub` process per venue (a hub serves one venue, its `[sync] site`), all on one database.
The lanes are light MQTT clients in this process (bench/fleet_lanes.py), each on its venue's
broker, publishing what a device's `gate sync` publishes.

1. **Idle**: everything connected, no visitor: what the hubs and PostgreSQL do anyway.
2. **Peak**: each lane admits a visitor every 2-4 s (a held row at the read, a committed row at
   the passage 1-1.8 s later) for `--duration` s: the rows stored a second (counted in the
   database by the time the hub stored each); end to end, from a row's publish at the lane to
   the hub's mark covering it arriving back at that lane (its `hub/confirmed/<device>`
   subscription); each hub's resident memory (VmRSS); the CPU each part used.
3. **Saturated**: the lanes of `--saturate-venues` venue(s) keep `--window` rows each unconfirmed,
   one row a message, for `--saturate` s: the most one hub process stores in the peak's shape of
   message, and its CPU and PostgreSQL's per row.

Baselines on the same server in the same run: the same rows inserted straight into a fresh
database's event table with psycopg, 1000 a transaction (the floor) and one a transaction; and the
hub's store (gate/hub/postgres.py) in this process, one row a message, without MQTT.

Figures go to docs/performance.md ("The fleet"); docs/scale.md ("What 1 000 venues need") is
estimated from them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

import aiomqtt  # noqa: E402
import psycopg  # noqa: E402
from fleet_infra import Brokers, Hubs, Postgres, cpu_s, machine_busy_s, rss_mb  # noqa: E402
from fleet_lanes import Lane, Shapes, check_shape, made  # noqa: E402

from gate.hub.postgres import PostgresHubStore  # noqa: E402
from gate.sync.payloads import Event, Events  # noqa: E402
from tests.sync.broker import MOSQUITTO  # noqa: E402

COLUMNS = ("site, device, incarnation, seq, id, at, type, lane, entitlement_id, redemption_id, reason, body, "
           "received_at, repeat, pos")  # fmt: skip
TYPES = ("text", "text", "text", "bigint", "text", "float8", "text", "text", "text", "text", "text", "text", "float8",
         "bool", "bigint")  # fmt: skip
FLOOR_INSERT = f"INSERT INTO event ({COLUMNS}) SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in TYPES)})"
ONE_INSERT = f"INSERT INTO event ({COLUMNS}) VALUES ({', '.join(['%s'] * len(TYPES))})"
WARMUP_S = 5.0  # the lanes start out of step within 4 s
SAMPLE = 1000  # rows of the one-a-transaction baselines


@dataclass
class Sample:
    at: float  # perf_counter
    wall: float  # time.time(), as the hub stamps what it stores
    cpu: dict[str, float]
    busy: float
    commits: int
    wal: int
    up: int  # messages the lanes published: each into the central broker from a bridge, and out to a hub
    down: int  # marks the lanes received: each into the central broker from a hub, and out to a bridge


class Meter:
    """CPU seconds of each part, the machine's, and the database's commits and WAL, at a moment."""

    def __init__(self, dsn: str, parts: dict[str, Callable[[], list[int]]], central: Central) -> None:
        self.dsn, self.parts, self.central = dsn, parts, central
        self.lanes: list[Lane] = []

    def _db(self) -> tuple[int, int]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            commits = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            wal = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
            return int(_value(commits)), int(_value(wal))

    async def sample(self) -> Sample:
        commits, wal = await asyncio.to_thread(self._db)
        cpu = {name: cpu_s(pids()) for name, pids in self.parts.items()}
        up, down = sum(lane.published for lane in self.lanes), sum(lane.marks for lane in self.lanes)
        return Sample(time.perf_counter(), time.time(), cpu, machine_busy_s(), commits, wal, up, down)


def _value(cursor: psycopg.Cursor[Any]) -> Any:
    row = cursor.fetchone()
    assert row is not None
    return row[0]


def stored_between(dsn: str, start: float, end: float, sites: list[str] | None = None) -> int:
    query = "SELECT count(*) FROM event WHERE received_at >= %s AND received_at < %s"
    params: list[Any] = [start, end]
    if sites is not None:
        query += " AND site = ANY(%s)"
        params.append(sites)
    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(_value(conn.execute(query, params)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


class Central:
    """The central broker's bridges, as their notification topics say (`1`: up)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bridges: set[str] = set()

    async def watch(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, identifier="bench-watch") as client:
            await client.subscribe("$SYS/broker/connection/+/state")
            async for message in client.messages:
                if message.payload == b"1":
                    self.bridges.add(str(message.topic).split("/")[3])


async def until(condition: Callable[[], bool], what: str, timeout: float) -> float:
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(0.05)
    return time.perf_counter() - start


@dataclass
class Run:
    idle: tuple[Sample, Sample]
    peak: tuple[Sample, Sample]
    saturated: tuple[Sample, Sample] | None
    offered_peak: int  # rows made within the peak's window
    stored_peak: int
    stored_saturated: int
    rss_peak: list[float]
    rss_saturated: list[float]
    latencies: dict[str, list[float]]
    made: dict[str, int]
    resent: int
    drain_s: float


async def drive(args: argparse.Namespace, sites: list[str], brokers: Brokers, hubs: Hubs, meter: Meter,
                dsn: str) -> Run:  # fmt: skip
    shapes = Shapes()
    check_shape(shapes)
    latencies: dict[str, list[float]] = defaultdict(list)
    lanes = [Lane(site, f"{site}-l{n:02d}", shapes, latencies) for site in sites for n in range(1, args.lanes + 1)]
    meter.lanes = lanes
    watching = asyncio.create_task(meter.central.watch())
    await until(lambda: meter.central.bridges >= {f"venue-{site}" for site in sites}, "every bridge up", 60)
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        for lane in lanes:
            await stack.enter_async_context(lane.client_for(brokers.venues[lane.site].port))
            await lane.start()
        serving = [asyncio.create_task(lane.serve()) for lane in lanes]
        try:
            await asyncio.sleep(3.0)  # presence and the first health messages stored
            idle = await meter.sample()
            await asyncio.sleep(args.idle)
            idle_end = await meter.sample()
            end = loop.time() + args.duration
            visiting = [asyncio.create_task(lane.peak(end, "peak")) for lane in lanes]
            await asyncio.sleep(WARMUP_S)
            first = await meter.sample()
            before = sum(len(lane.journal) for lane in lanes)
            await asyncio.gather(*visiting)
            last = await meter.sample()
            offered = sum(len(lane.journal) for lane in lanes) - before
            drain_s = await until(lambda: all(lane.confirmed for lane in lanes), "every peak row confirmed", 120)
            stored = await asyncio.to_thread(stored_between, dsn, first.wall, last.wall)
            rss_peak = [rss_mb(pid) for pid in hubs.pids()]
            saturated, stored_saturated, rss_saturated = None, 0, []
            if args.saturate > 0:
                chosen = sites[: args.saturate_venues]
                end = loop.time() + args.saturate
                flooding = [asyncio.create_task(lane.flood(end, args.window, "saturated"))
                            for lane in lanes if lane.site in chosen]  # fmt: skip
                await asyncio.sleep(2.0)  # under way
                s0 = await meter.sample()
                await asyncio.gather(*flooding)
                s1 = await meter.sample()
                saturated = (s0, s1)
                await until(lambda: all(lane.confirmed for lane in lanes), "every saturated row confirmed", 120)
                stored_saturated = await asyncio.to_thread(stored_between, dsn, s0.wall, s1.wall, chosen)
                rss_saturated = [rss_mb(pid) for pid in hubs.pids(chosen)]
        finally:
            for task in (*serving, watching):
                task.cancel()
            await asyncio.gather(*serving, watching, return_exceptions=True)
    return Run(idle=(idle, idle_end), peak=(first, last), saturated=saturated, offered_peak=offered,
               stored_peak=stored, stored_saturated=stored_saturated, rss_peak=rss_peak, rss_saturated=rss_saturated,
               latencies=latencies, made=made(lanes), resent=sum(lane.resent for lane in lanes),
               drain_s=drain_s)  # fmt: skip


# --- after the run: what was stored, and the baselines ------------------------------------------


def stored_rows(dsn: str) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Every stored row (by the time it was stored), and the event table's sizes."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM event ORDER BY received_at").fetchall()
        keys = int(_value(conn.execute("SELECT count(DISTINCT (device, incarnation, seq)) FROM event")))
        ids = int(_value(conn.execute("SELECT count(DISTINCT id) FROM event")))
        conn.execute("VACUUM ANALYZE event")
        sizes = {name: int(_value(conn.execute(f"SELECT {function}('event')"))) for name, function in
                 (("table", "pg_table_size"), ("indexes", "pg_indexes_size"))}  # fmt: skip
        connections = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'gate-hub-%%' "
                                   "AND datname = current_database()")  # fmt: skip
        sizes |= {"keys": keys, "ids": ids, "connections": int(_value(connections))}
    return rows, sizes


def floors(cluster: Postgres, rows: list[tuple[Any, ...]]) -> dict[str, float]:
    """Rows a second: straight into the event table, 1000 a transaction and one a transaction; and
    through the hub's store in this process, one row a message."""
    dsn = cluster.database()
    PostgresHubStore(dsn, "floor").close()  # the hub's schema, migrated
    rates: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        start = time.perf_counter()
        for at in range(0, len(rows), 1000):
            with conn.transaction():
                conn.execute(FLOOR_INSERT, [list(column) for column in zip(*rows[at : at + 1000], strict=True)])
        rates["batched"] = len(rows) / (time.perf_counter() - start)
        conn.execute("TRUNCATE event")
        sample = rows[:SAMPLE]
        start = time.perf_counter()
        for row in sample:
            conn.execute(ONE_INSERT, row)
        rates["one"] = len(sample) / (time.perf_counter() - start)
        conn.execute("TRUNCATE event")
    messages = [Events(v=1, device=row[1], incarnation=row[2], floor=0, events=[Event(
                    seq=row[3], id=row[4], at=row[5], type=row[6], lane=row[7], entitlement_id=row[8],
                    redemption_id=row[9], reason=row[10], body=json.loads(row[11]))])
                for row in sorted(sample, key=lambda r: (r[1], r[3]))]  # fmt: skip
    store = PostgresHubStore(dsn, sample[0][0])
    start = time.perf_counter()
    for message in messages:
        store.add(message)
    rates["store"] = len(messages) / (time.perf_counter() - start)
    store.close()
    return rates


# --- the report ---------------------------------------------------------------------------------


def report(args: argparse.Namespace, cluster: Postgres, run: Run, rows: int, sizes: dict[str, int],
           rates: dict[str, float], setup_s: float) -> None:  # fmt: skip
    venues, lanes = args.venues, args.venues * args.lanes
    said = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True, check=False).stdout
    mosquitto = said.split("\n")[0].removeprefix("mosquitto version ")
    durable = "fsync on, synchronous_commit on" if args.durable else "fsync off, synchronous_commit off"
    print(f"The fleet: {venues} venues x {args.lanes} lanes = {lanes} lanes; a shared machine ({os.cpu_count()} "
          f"cores, others' work running), this bench at nice {os.nice(0)}")  # fmt: skip
    print(f"PostgreSQL {cluster.version()} ({durable}); Mosquitto {mosquitto}: {venues} venue brokers bridged "
          f"(MQTT v5, loopback, no TLS) to one central broker; {venues} gate hub processes, one a venue; "
          f"set up in {setup_s:.0f} s")  # fmt: skip
    (i0, i1), (p0, p1) = run.idle, run.peak
    peak_s, idle_s = p1.at - p0.at, i1.at - i0.at
    stored_rate = run.stored_peak / peak_s
    print(f"\npeak: a visitor every 2-4 s a lane (a held and a committed row), {args.duration:.0f} s; "
          f"measured over the {peak_s:.0f} s after the first {WARMUP_S:.0f}")  # fmt: skip
    print(f"  rows stored at the hubs   {stored_rate:8.1f} a second ({run.stored_peak:,} rows; the lanes made "
          f"{run.offered_peak / peak_s:.1f} a second)")  # fmt: skip
    peak = [v * 1000 for v in run.latencies["peak"]]
    print(f"  end to end, ms            p50 {percentile(peak, 50):.1f}   p99 {percentile(peak, 99):.1f}   max "
          f"{max(peak):.1f}   ({len(peak):,} rows: publish at the lane -> the hub's mark back at that lane)")
    print(f"  rows sent again           {run.resent} (not confirmed within 10 s); every row confirmed "
          f"{run.drain_s:.1f} s after the peak's end")  # fmt: skip
    rss = run.rss_peak
    print(f"  hub resident memory       median {statistics.median(rss):.0f} MB, max {max(rss):.0f} MB "
          f"({len(rss)} processes: {sum(rss) / 1024:.2f} GB)")  # fmt: skip
    print(f"\n{'CPU, % of one core':<28}{'idle':>8}{'peak':>8}{'ms a row above idle':>22}")
    for name in p0.cpu:
        idle_pct = (i1.cpu[name] - i0.cpu[name]) / idle_s * 100
        peak_pct = (p1.cpu[name] - p0.cpu[name]) / peak_s * 100
        extra = (peak_pct - idle_pct) / 100 / max(stored_rate, 1e-9) * 1000
        print(f"  {name:<26}{idle_pct:8.1f}{peak_pct:8.1f}{extra:22.2f}")
    print(f"  {'the machine (everything)':<26}{(i1.busy - i0.busy) / idle_s * 100:8.1f}"
          f"{(p1.busy - p0.busy) / peak_s * 100:8.1f}")  # fmt: skip
    wal_idle, wal_peak = (i1.wal - i0.wal) / idle_s, (p1.wal - p0.wal) / peak_s
    print(f"PostgreSQL: {(i1.commits - i0.commits) / idle_s:.0f} transactions a second idle, "
          f"{(p1.commits - p0.commits) / peak_s:.0f} at peak; WAL {wal_idle / 1024:.0f} kB a second idle, "
          f"{wal_peak / 1024:.0f} at peak ({(wal_peak - wal_idle) / max(stored_rate, 1e-9):,.0f} bytes a row above "
          f"idle); {sizes['connections']} connections from the hubs ({sizes['connections'] / venues:.1f} "
          "a hub)")  # fmt: skip
    heads = venues / 5  # each hub's head, every 5 s, to its venue's bridge
    print(f"central broker, messages a second (each in once and out once): up {(i1.up - i0.up) / idle_s:.0f} idle, "
          f"{(p1.up - p0.up) / peak_s:.0f} at peak (lanes' events, presence, health); down "
          f"{(i1.down - i0.down) / idle_s + heads:.0f} idle, {(p1.down - p0.down) / peak_s + heads:.0f} at peak "
          f"(marks, heads); connected: {venues} bridges, {venues} hubs")  # fmt: skip
    if run.saturated is not None:
        s0, s1 = run.saturated
        span, n = s1.at - s0.at, run.stored_saturated
        hub_cpu = s1.cpu["gate hub, all"] - s0.cpu["gate hub, all"]
        pg_cpu = s1.cpu["PostgreSQL"] - s0.cpu["PostgreSQL"]
        central = s1.cpu["central broker"] - s0.cpu["central broker"]
        print(f"\nsaturated: the lanes of {args.saturate_venues} venue(s) keep {args.window} rows each unconfirmed, "
              f"one row a message; {span:.0f} s measured")  # fmt: skip
        print(f"  rows stored               {n / span:8.1f} a second per hub ({n / args.saturate_venues:,.0f} rows "
              f"a hub)")  # fmt: skip
        print(f"  CPU a row                 the hubs {hub_cpu / max(n, 1) * 1000:.2f} ms, PostgreSQL "
              f"{pg_cpu / max(n, 1) * 1000:.2f} ms, the central broker {central / max(n, 1) * 1000:.2f} ms; the "
              f"machine {(s1.busy - s0.busy) / span * 100:.0f} % of one core busy")  # fmt: skip
        print(f"  its hub's resident memory {max(run.rss_saturated):.0f} MB after")
        saturated_rate = n / span / args.saturate_venues
    print("\nbaselines, the same server:")
    for name, rate in ((f"the same {rows:,} rows straight into the event table, 1000 a transaction", rates["batched"]),
                       (f"{SAMPLE} of them, one a transaction", rates["one"]),
                       (f"{SAMPLE} of them through the hub's store in this process, one a message", rates["store"])):
        print(f"  {name:<76}{rate:10,.0f} a second")
    if run.saturated is not None:
        print(f"  one saturated hub / its store alone: {saturated_rate / rates['store']:.2f}; / one a transaction: "
              f"{saturated_rate / rates['one']:.2f}; / the floor: {saturated_rate / rates['batched']:.3f}")  # fmt: skip
    total = sizes["table"] + sizes["indexes"]
    print(f"\nstorage: {rows:,} rows, table {sizes['table'] / 2**20:.1f} MB + indexes {sizes['indexes'] / 2**20:.1f} MB"
          f" = {total / rows:,.0f} bytes a row ({sizes['table'] / rows:,.0f} + {sizes['indexes'] / rows:,.0f})")
    made_total = sum(run.made.values())
    once = rows == made_total == sizes["keys"] == sizes["ids"]
    print(f"every row the lanes made ({made_total:,}) stored exactly once: {'yes' if once else 'NO'} "
          f"({rows:,} stored, {sizes['keys']:,} distinct keys, {sizes['ids']:,} distinct ids)")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--venues", type=int, default=20)
    parser.add_argument("--lanes", type=int, default=10, help="lanes a venue")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds at peak")
    parser.add_argument("--idle", type=float, default=8.0, help="seconds measured idle first")
    parser.add_argument("--saturate", type=float, default=15.0, help="seconds with one hub saturated (0: none)")
    parser.add_argument("--saturate-venues", type=int, default=1, help="venues whose hubs are saturated at once")
    parser.add_argument("--window", type=int, default=20, help="rows each saturating lane keeps unconfirmed")
    parser.add_argument("--not-durable", dest="durable", action="store_false",
                        help="PostgreSQL as the tests run it (fsync and synchronous_commit off)")  # fmt: skip
    args = parser.parse_args()
    sites = [f"v{n:03d}" for n in range(1, args.venues + 1)]
    work = Path(tempfile.mkdtemp(prefix="gate-bench-fleet-"))
    cluster = Postgres(durable=args.durable)
    brokers: Brokers | None = None
    hubs: Hubs | None = None
    try:
        start = time.perf_counter()
        cluster.start()
        dsn = cluster.database()
        brokers = Brokers(sites)
        hubs = Hubs(work, sites, port=brokers.central.port, dsn=dsn)
        hubs.wait_ready(180)
        setup_s = time.perf_counter() - start
        parts: dict[str, Callable[[], list[int]]] = {
            "gate hub, all": hubs.pids, "PostgreSQL": cluster.pids,
            "central broker": lambda: [brokers.central_pid()] if brokers else [],
            "venue brokers, all": lambda: brokers.venue_pids() if brokers else [],
            "lanes (this process)": lambda: [os.getpid()],
        }  # fmt: skip
        run = asyncio.run(drive(args, sites, brokers, hubs, Meter(dsn, parts, Central(brokers.central.port)), dsn))
        rows, sizes = stored_rows(dsn)
        hubs.close()
        rates = floors(cluster, rows)
        report(args, cluster, run, len(rows), sizes, rates, setup_s)
        shutil.rmtree(work, ignore_errors=True)  # kept when the run fails: the hubs' logs are there
        return 0
    finally:
        if hubs is not None:
            hubs.close()
        if brokers is not None:
            brokers.close()
        cluster.stop()
        if work.exists():
            print(f"the hubs' configs and logs: {work}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
