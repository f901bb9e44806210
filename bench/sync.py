"""A redemption at one device, known to its peer: from the commit to the peer's decision seeing it.

    .venv/bin/python bench/sync.py                 # 200 redemptions
    .venv/bin/python bench/sync.py --samples 500
    .venv/bin/python bench/sync.py --snapshot [ARGS]   # bench/snapshot.py: a 1M-entitlement snapshot

Real parts, as on a site: Debian's Mosquitto on a free loopback port, two devices each with
its own ledger file (the same venue export imported on both) and its own `gate sync` process.
Each sample commits a single-entry ticket at device A through its engine (held, then
committed: what a lane does) and times, on the same clock, until device B's ledger counts
the use (`Ledger.uses`, which every decision of B reads), polled every 0.5 ms.

- **peer knows** = from A's commit returning to B's ledger counting the use: A's sync
  noticing the row (`[sync] poll_ms`, 10 ms), publishing, the broker, B's sync applying it in
  one transaction, and B's next read.
- **baseline**: the commit itself at A (`Engine.commit`), from the same samples.

Target (design): p99 under 100 ms on a local broker. Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from gate.cache import Ledger  # noqa: E402
from gate.config import load_config  # noqa: E402
from gate.engine import Engine  # noqa: E402
from tests.configs import config_text  # noqa: E402
from tests.sync.broker import Broker  # noqa: E402


def _venue(count: int) -> list[str]:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    lines = [{"type": "header", "format": "gate-ledger", "version": 1}]
    lines += [{"type": "entitlement", "kind": "ticket", "id": f"t-{n}", "version": 1, "day": today,
               "references": [f"T{n}"]} for n in range(count)]  # fmt: skip
    return [json.dumps(line) for line in lines]


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def main() -> int:
    if sys.argv[1:2] == ["--snapshot"]:  # the snapshot's bench, its own arguments after
        import snapshot  # noqa: PLC0415 - bench/snapshot.py, beside this script

        return snapshot.main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    broker = Broker(persistence=False)
    broker.start()
    work = Path(tempfile.mkdtemp(prefix="gate-bench-sync-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        ledgers, engines, configs = [], [], []
        for name in ("d1", "d2"):
            config = work / f"{name}.toml"
            config.write_text(config_text({"ledger": {"path": f"{name}.sqlite"}, "device": {"id": name},
                                           "sync": {"site": "bench", "port": broker.port}}))  # fmt: skip
            ledger = Ledger.open(work / f"{name}.sqlite")
            ledger.import_lines(_venue(args.samples), source="bench")
            ledgers.append(ledger)
            engines.append(Engine(ledger, load_config(config)))
            configs.append(config)
        for config in configs:
            log = (work / f"{config.stem}.log").open("wb")
            processes.append(subprocess.Popen([sys.executable, "-m", "gate", "sync", "--config", str(config)],
                                              stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                              env={**os.environ, "PYTHONUNBUFFERED": "1"}))  # fmt: skip
        deadline = time.monotonic() + 20
        while not all("connected to" in (work / f"{c.stem}.log").read_text() for c in configs):
            if time.monotonic() > deadline:
                raise SystemExit("the sync processes did not connect")
            time.sleep(0.05)
        a, b = engines
        peer = ledgers[1]
        knows, commits = [], []
        for n in range(args.samples):
            at = dt.datetime.now(dt.UTC)
            held = a.admit(f"T{n}", lane="l1", at=at)
            assert held.redemption is not None, held.decision
            peer_deadline = time.monotonic() + 5
            while not peer.uses([f"t-{n}"]):  # the hold may arrive first: wait it out, then time the commit
                if time.monotonic() > peer_deadline:
                    raise SystemExit(f"the peer never learned of hold {n}")
                time.sleep(0.0005)
            start = time.monotonic()
            a.commit(held.redemption, at=dt.datetime.now(dt.UTC))
            committed = time.monotonic()
            while not any(not use.held for use in peer.uses([f"t-{n}"])):
                if time.monotonic() - start > 5:
                    raise SystemExit(f"the peer never learned of commit {n}")
                time.sleep(0.0005)
            knows.append((time.monotonic() - start) * 1000)
            commits.append((committed - start) * 1000)
        print(f"{args.samples} redemptions, two devices, Mosquitto on 127.0.0.1:{broker.port}, poll 10 ms")
        print(f"{'path':<44} {'p50 ms':>7} {'p99 ms':>8} {'max ms':>8}")
        rows = (("commit at A -> counted at B (peer knows)", knows), ("baseline: the commit at A", commits))
        for name, values in rows:
            p50, p99, top = _quantiles(values)
            print(f"{name:<44} {p50:7.1f} {p99:8.1f} {top:8.1f}")
        p99 = _quantiles(knows)[1]
        print(f"target: p99 under 100 ms: {'met' if p99 < 100 else 'not met'}")
        return 0
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        for ledger in locals().get("ledgers", []):
            ledger.close()
        broker.close()


if __name__ == "__main__":
    raise SystemExit(main())
