"""The hub's back-office work at size: storing events once erasures exist, an erasure at the hub
and on a device while they keep writing, and a day's reports.

    .venv/bin/python bench/hub.py                 # 100 000 events
    .venv/bin/python bench/hub.py --events 300000

- **ingest**: `SqliteHubStore.add` of messages of 200 events (what `gate hub` does per message),
  events per second, before any erasure and after one (each message is then checked against the
  erased pseudonyms: `gate.hub.erasure.late`).
- **erasure at the hub**: one holder's 20 entitlements among 2 000, their events spread over
  the store, the log's 100 batches holding their records: the whole `erase`, and meanwhile the
  longest a message of 200 events waited to be stored (another connection, one every 5 ms).
- **erasure on a device**: a ledger with a journal of the same size, the holder's rows in it:
  `carry_out`, and meanwhile the longest a lane's refusal waited (one every 5 ms).
- **reports**: `hours` and `members` over the day that holds all the events.

Synthetic rows shaped as the lanes write them (a committed redemption with its uses).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as Event_
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from gate.cache import Ledger, erasure  # noqa: E402
from gate.hub.erasure import Request, redactor  # noqa: E402
from gate.hub.reports import Period, report  # noqa: E402
from gate.hub.store import SqliteHubStore  # noqa: E402
from gate.sync.batches import sign_batch  # noqa: E402
from gate.sync.payloads import Event, Events  # noqa: E402

TZ = ZoneInfo("Europe/Paris")
DAY = dt.date(2026, 3, 14)
KEY = Ed25519PrivateKey.generate()
ENTITLEMENTS, ERASED = 2000, 20


def _body(n: int, at: float) -> dict[str, object]:
    entitlement = f"m-{n % ENTITLEMENTS}"
    use = {"entitlement_id": entitlement, "at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(),
           "direction": "entry", "persons": 1, "credits": 0, "performance": None, "event": None,
           "benefit": 0, "lane": "l1", "zone": "main"}  # fmt: skip
    return {"redemption": f"r{n:012d}", "verdict": "admit", "reason": "ok", "params": {}, "admitted": 1,
            "entitlement_id": entitlement, "kind": "membership", "lane": "l1", "zone": "main", "direction": "entry",
            "reference": f"CARD-{n % ENTITLEMENTS}", "held_at": use["at"], "at": use["at"], "passed": 1,
            "uses": [use]}  # fmt: skip


def _events(count: int, first: int = 0) -> list[Event]:
    start = dt.datetime.combine(DAY, dt.time(9), TZ).timestamp()
    return [Event(seq=first + n + 1, id=f"e{first + n:012d}", at=start + (first + n) * 0.3, type="redemption.committed",
                  lane="l1", entitlement_id=f"m-{(first + n) % ENTITLEMENTS}", redemption_id=f"r{first + n:012d}",
                  reason="ok", body=_body(first + n, start + (first + n) * 0.3)) for n in range(count)]  # fmt: skip


def _ingest(store: SqliteHubStore, events: list[Event], device: str) -> float:
    started = time.perf_counter()
    for at in range(0, len(events), 200):
        store.add(Events(v=1, device=device, incarnation="0" * 16, floor=0, events=events[at : at + 200]))
    return len(events) / (time.perf_counter() - started)


def _hub_writer(path: str, first: int, stop: Event_, longest: Synchronized[float]) -> None:
    store = SqliteHubStore(Path(path))
    while not stop.is_set():
        started = time.perf_counter()
        store.add(Events(v=1, device="d2", incarnation="0" * 16, floor=0, events=_events(200, first=first)))
        longest.value = max(longest.value, time.perf_counter() - started)
        first += 200
        time.sleep(0.005)
    store.close()


def _lane_writer(path: str, first: int, stop: Event_, longest: Synchronized[float]) -> None:
    lane = Ledger.open(Path(path))
    while not stop.is_set():
        started = time.perf_counter()
        lane.record_event("lookup", at=dt.datetime.now(dt.UTC), lane="l1", body={})
        longest.value = max(longest.value, time.perf_counter() - started)
        time.sleep(0.005)
    lane.close()


class Beside:
    """A process of its own (a lane daemon, the hub) writing every 5 ms meanwhile: its longest wait."""

    def __init__(self, writer: Callable[[str, int, Event_, Synchronized[float]], None], path: Path, first: int = 0):
        self._stop = multiprocessing.Event()
        self._longest = multiprocessing.Value("d", 0.0)
        self._process = multiprocessing.Process(target=writer, args=(str(path), first, self._stop, self._longest))

    def __enter__(self) -> Beside:
        self._process.start()
        time.sleep(0.5)  # started, and writing
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join()

    @property
    def longest_ms(self) -> float:
        return float(self._longest.value) * 1000


def hub(folder: Path, count: int) -> None:
    store = SqliteHubStore(folder / "hub.sqlite")
    print(f"ingest, no erasure yet: {_ingest(store, _events(count), 'd1'):,.0f} events/s")
    lines = [json.dumps({"type": "entitlement", "kind": "membership", "id": f"m-{n}", "version": 1, "holder":
                         f"h-{n % 100}", "references": [f"CARD-{n}"], "valid_from": "2026-01-01",
                         "expires_on": "2026-12-31"})
             for n in range(ENTITLEMENTS)]  # fmt: skip
    header = '{"type":"header","format":"gate-ledger","version":1}'
    for seq in range(1, 101):
        text = "\n".join([header, *lines[(seq - 1) * 20 : seq * 20]]) + "\n"
        store.append(lambda s, text=text: sign_batch("s1", s, text, key_id="hub", key=KEY))  # type: ignore[misc]
    erased = [f"m-{n}" for n in range(0, ENTITLEMENTS, ENTITLEMENTS // ERASED)]
    request = Request(("h-0",), tuple(erased), tuple(f"CARD-{e[2:]}" for e in erased),
                      tuple(("entitlement", e, 2) for e in erased), before=101)  # fmt: skip
    with store._lock:  # as the publish's transaction would have kept it
        store._conn.execute("INSERT INTO erasure (request, at) VALUES (?, ?)", (request.dump(), time.time()))
    [(number, pending)] = store.pending_erasures()
    with Beside(_hub_writer, folder / "hub.sqlite", first=count + 10**6) as alone:
        time.sleep(2.0)
    print(f"baseline: a message of 200 events waited at most {alone.longest_ms:.0f} ms with nothing else writing")
    with Beside(_hub_writer, folder / "hub.sqlite", first=count) as beside:
        started = time.perf_counter()
        done = store.erase(number, pending, redactor("s1", "hub", KEY, pending))
        took = time.perf_counter() - started
    print(f"erasure at the hub: {done.events:,} events, {done.batches} batches in {took:.2f} s; "
          f"a message of 200 events waited at most {beside.longest_ms:.0f} ms meanwhile")
    print(f"ingest, with erased pseudonyms to check: {_ingest(store, _events(count, first=10**7), 'd3'):,.0f} events/s")
    period = Period(DAY, DAY, TZ)
    for name in ("hours", "members"):
        started = time.perf_counter()
        table = report(store, folder / "hub.sqlite", name, period)
        print(f"report {name}: {len(table.rows):,} rows in {time.perf_counter() - started:.2f} s")
    store.close()


def device(folder: Path, count: int) -> None:
    ledger = Ledger.open(folder / "d1.sqlite")
    lines = [json.dumps({"type": "entitlement", "kind": "membership", "id": f"m-{n}", "version": 1, "holder":
                         f"h-{n % 100}", "references": [f"CARD-{n}"], "valid_from": "2026-01-01",
                         "expires_on": "2026-12-31"})
             for n in range(ENTITLEMENTS)]  # fmt: skip
    ledger.import_lines(lines, source="venue")
    rows = [(e.id, e.at, e.type, e.lane, e.entitlement_id, e.redemption_id, e.reason, json.dumps(e.body), 0)
            for e in _events(count)]  # fmt: skip
    writer = Ledger.open(folder / "d1.sqlite")  # the journal as the lanes left it (written raw: a bench's shortcut)
    with writer.recording(durable=True):
        writer._conn.executemany("INSERT INTO journal (id, at, type, lane, entitlement_id, redemption_id, reason, "
                                 "body, inside) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)  # fmt: skip
    writer.close()
    ledger.checkpoint(force=True)  # folded, as the lanes leave it when idle
    erased = [f"m-{n}" for n in range(0, ENTITLEMENTS, ENTITLEMENTS // ERASED)]
    tombstones = [json.dumps({"type": "entitlement", "id": e, "version": 2, "deleted": True}) for e in erased]
    text = "\n".join([json.dumps({"type": "holder", "id": "h-0", "version": 1, "deleted": True}), *tombstones])
    plan = erasure.planned(ledger.path, text, batch=1)
    assert plan is not None
    ledger.import_lines(text.splitlines(), source="batch 1", settings={erasure.PENDING: plan.dump()})
    with Beside(_lane_writer, folder / "d1.sqlite") as alone:
        time.sleep(2.0)
    print(f"baseline: a lane's write waited at most {alone.longest_ms:.0f} ms with nothing else writing")
    with Beside(_lane_writer, folder / "d1.sqlite") as beside:
        started = time.perf_counter()
        done = erasure.carry_out(ledger.path)
        took = time.perf_counter() - started
    assert done is not None
    print(f"erasure on a device: {done.rows:,} journal rows of {count:,} in {took:.2f} s; a lane's write waited "
          f"at most {beside.longest_ms:.0f} ms meanwhile")  # fmt: skip
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hub(Path(tmp), args.events)
        device(Path(tmp), args.events)


if __name__ == "__main__":
    main()
