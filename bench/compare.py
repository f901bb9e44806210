"""Gate's own time on the decision paths, this checkout against another, in one process.

    git worktree add --detach /tmp/gate-base <commit>
    .venv/bin/python bench/compare.py /tmp/gate-base            # 200k entitlements, 1M usage rows
    .venv/bin/python bench/compare.py /tmp/gate-base --samples 4000

On this 2-core virtual machine a run's speed drifts by a third from one process to the
next, and the disk's fsync more: two runs of bench/decide.py cannot tell a 5 % change. This
loads both checkouts' `gate` packages into one process (each keeps its own modules), builds a
ledger with each one's own import on tmpfs (so an fsync costs next to nothing and what is
left is gate's own time), and alternates their samples, one of each in turn, so both meet
the same machine. It prints each side's p50 in microseconds and the ratio this/other, which
holds to about 1 % from run to run. The instant is given in UTC, as a lane's clock gives it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parents[1]
PATHS = ("decide", "one-step", "lane")


def load(checkout: Path) -> dict[str, ModuleType]:
    """The checkout's bench and gate modules, imported afresh beside any loaded before."""
    for name in [m for m in sys.modules if m in ("gate", "decide") or m.startswith("gate.")]:
        del sys.modules[name]
    sys.path[:0] = [str(checkout / "bench"), str(checkout)]
    try:
        return {name: importlib.import_module(name) for name in ("decide", "gate.cache", "gate.config", "gate.engine")}
    finally:
        del sys.path[:2]


class Side:
    """One checkout's engine on its own ledger, and its samples."""

    def __init__(self, checkout: Path, directory: Path, entitlements: int, uses: int, codes: list[str]) -> None:
        m = load(checkout)
        bench, cache = m["decide"], m["gate.cache"]
        directory.mkdir()
        lines = directory / "ledger.jsonl"
        lines.write_text("".join(line + "\n" for line in bench.entitlement_lines(entitlements)))
        path = directory / "ledger.sqlite"
        with cache.Ledger.open(path) as ledger:
            ledger.import_file(lines)
            ledger.bulk_insert_uses(bench.usage_rows(uses, entitlements))
        self.ledger: Any = cache.Ledger.open(path)
        config = m["gate.config"].parse_config(bench.CONFIG.format(path=path))
        self.engine: Any = m["gate.engine"].Engine(self.ledger, config)
        self.at: dt.datetime = bench.NOW.astimezone(dt.UTC)
        self.codes = codes
        self.fresh: Iterator[str] = iter(codes)  # the recording paths use each member once
        self.samples: dict[str, list[float]] = {path: [] for path in PATHS}
        self.engine.decide(codes[0], lane="l1", at=self.at)
        self.ledger.checkpoint(force=True)

    def paths(self, rnd: random.Random) -> dict[str, Callable[[], object]]:
        engine, at = self.engine, self.at

        def lane() -> None:
            outcome = engine.admit(next(self.fresh), lane="l1", at=at)
            engine.commit(outcome.redemption, at=at)

        return {
            "decide": lambda: engine.decide(self.codes[rnd.randrange(len(self.codes))], lane="l1", at=at),
            "one-step": lambda: engine.redeem(next(self.fresh), lane="l1", at=at),
            "lane": lane,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("other", type=Path, help="the checkout to compare with (a git worktree)")
    parser.add_argument("--entitlements", type=int, default=200_000)
    parser.add_argument("--uses", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path("/dev/shm"), help="where to build (default: tmpfs)")
    args = parser.parse_args()
    rnd = random.Random(3)
    # Members (i % 10 < 4 in the bench's mix): each scan admits, so the recording paths record.
    warm = args.samples // 10
    members = range(0, args.entitlements, 10)
    needed = 2 * (warm + args.samples)  # one fresh member per sample of the two recording paths
    if len(members) < needed:
        parser.error(f"{args.samples} samples need {needed * 10:,} entitlements or more")
    codes = [f"R{i:07d}" for i in rnd.sample(members, needed)]
    with tempfile.TemporaryDirectory(prefix="gate-compare-", dir=args.dir) as tmp:
        sides = {
            "other": Side(args.other.resolve(), Path(tmp) / "other", args.entitlements, args.uses, codes),
            "this": Side(HERE, Path(tmp) / "this", args.entitlements, args.uses, codes),
        }
        calls = {name: side.paths(rnd) for name, side in sides.items()}
        for i in range(warm + args.samples):
            for path in PATHS:
                for name in ("this", "other") if i % 2 else ("other", "this"):
                    t0 = time.perf_counter_ns()
                    calls[name][path]()
                    elapsed = (time.perf_counter_ns() - t0) / 1000
                    if i >= warm:
                        sides[name].samples[path].append(elapsed)
                    sides[name].ledger.checkpoint()
        for side in sides.values():
            side.ledger.close()
    print(f"{args.entitlements:,} entitlements, {args.uses:,} usage rows on {args.dir}; {args.samples} samples each")
    print(f"{'p50 us':<10}" + "".join(f"{path:>10}" for path in PATHS))
    p50 = {name: {path: statistics.median(side.samples[path]) for path in PATHS} for name, side in sides.items()}
    for name in ("other", "this"):
        print(f"{name:<10}" + "".join(f"{p50[name][path]:10.1f}" for path in PATHS))
    print(f"{'this/other':<10}" + "".join(f"{p50['this'][path] / p50['other'][path]:10.3f}" for path in PATHS))


if __name__ == "__main__":
    main()
