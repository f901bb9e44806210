"""bench/decide.py still runs and reports every figure docs/performance.md quotes (on a tiny ledger).

The figures themselves are not asserted (rule 5: speed is measured, not tested); what is
tested is that the benchmark measures what it says, so a change to the ledger's statements
or schema cannot leave it broken until the next time someone wants a figure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "decide.py"
ROWS = (
    "floor: indexed lookup",
    "floor: insert+commit FULL",
    "floor: lookup+commit",
    "gate decision only",
    "gate one-step (--commit)",
    "gate hold, then commit",
    "SQLite alone, one-step",
    "SQLite alone, lane",
)


def test_the_decision_benchmark_reports_every_path_against_the_floor(tmp_path: Path) -> None:
    tiny = ["--entitlements", "3000", "--uses", "6000", "--samples", "40", "--dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, str(BENCH), *tiny],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for label in ROWS:
        line = next((line for line in out.splitlines() if line.startswith(label)), None)
        assert line is not None, f"no {label!r} row in:\n{out}"
        p50, p99 = (float(n) for n in re.findall(r"\d+(?:\.\d+)?", line[len(label) :])[:2])
        assert 0 < p50 <= p99, line
    gate_rows = [line for line in out.splitlines() if line.startswith(ROWS[3:])]
    assert all(re.search(r"\d\.\d\dx\s+\d+$", line) for line in gate_rows), out  # a ratio and its floor
    assert re.search(r"resident memory\s+\d+ MB after loading, \d+ MB after deciding", out), out
    assert list(tmp_path.iterdir()) == []  # the ledgers and their copy are cleaned up
