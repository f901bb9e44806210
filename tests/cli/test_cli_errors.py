"""The `gate` command as a real process, one case per kind of bad input: the exit status, and
a line naming what is wrong and where, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.configs import ConfigFile

ROOT = Path(__file__).resolve().parents[2]
NOON = "2026-06-01T12:00+02:00"


def gate(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gate", *map(str, argv)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_config_value_of_the_wrong_type(config_file: ConfigFile) -> None:
    config = config_file(lanes={"l1": {"kiosk": "no"}})
    done = gate("config", "check", config)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"gate: {config}: 1 problem(s)",
        "  lanes.l1.kiosk: Input should be a valid boolean, got text 'no'",
    ]
    assert done.stdout == ""


def test_a_nul_byte_in_a_config_path(config_file: ConfigFile) -> None:
    config = config_file(ledger={"path": "ledger\x00.sqlite"})
    done = gate("--config", config, "check", "TICKET-1", "--at", NOON)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"gate: {config}: 1 problem(s)",
        "  ledger.path: a path cannot contain a NUL byte (\\u0000)",
    ]


def test_a_decision_time_outside_the_range(venue: Path) -> None:
    done = gate("--config", venue, "check", "TICKET-1", "--at", "9999-12-31T23:59:59+00:00")
    assert done.returncode == 2
    assert done.stderr == (
        "gate: --at '9999-12-31T23:59:59+00:00': outside the times gate decides on "
        "(from 2000-01-01T00:00:00Z to before 2100-01-01T00:00:00Z)\n"
    )
    assert done.stdout == ""


def test_a_malformed_replay_line(venue: Path, tmp_path: Path) -> None:
    scans = tmp_path / "scans.jsonl"
    scans.write_text(json.dumps({"at": NOON, "lane": "north-1", "code": "TICKET-1", "party": "2"}) + "\n")
    done = gate("--config", venue, "replay", scans)
    assert done.returncode == 1
    assert done.stdout.splitlines() == ['{"line": 1, "error": "party: Input should be a valid integer"}']
    assert done.stderr == ""
    in_place = gate("--config", venue, "replay", scans, "--in-place")
    assert in_place.returncode == 2
    assert in_place.stderr == f"gate: {scans}: 1 bad line(s): nothing recorded (--in-place replays whole files)\n"
    assert "Traceback" not in done.stderr + in_place.stderr


def test_a_file_argument_the_system_refuses(venue: Path, tmp_path: Path) -> None:
    too_long = tmp_path / ("x" * 300)
    done = gate("--config", venue, "ledger", "import", too_long)
    assert done.returncode == 2
    assert done.stderr == f"gate: {too_long}: File name too long\n"
    folder = gate("--config", venue, "ledger", "export", "-o", tmp_path)
    assert folder.returncode == 2 and folder.stderr == f"gate: {tmp_path}: Is a directory\n"


def test_a_staff_command_argument_out_of_its_range(tmp_path: Path) -> None:
    done = gate("lane", "override", "x" * 65, "--reason", "x", "--socket", tmp_path / "none.sock")
    assert done.returncode == 2
    assert done.stderr == "gate: decision: String should have at most 64 characters\n"
