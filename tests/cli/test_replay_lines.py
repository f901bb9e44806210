"""`gate replay`: each line validated on its own, scans in time order, and `--in-place` applied
whole or not at all (docs/check.md, "Replay")."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Run, last_json

NOON = "2026-06-01T12:00+02:00"


def _scans(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "scans.jsonl"
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def _results(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def _scan(at: str, code: str = "TICKET-1", **fields: object) -> dict[str, object]:
    return {"at": at, "lane": "north-1", "code": code, **fields}


def test_a_scan_earlier_than_the_one_before_is_refused_by_line_not_decided(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        _scan("2026-06-01T10:00+02:00", party=1),
        _scan("2026-06-01T11:00+02:00", party=1),
        _scan("2026-06-01T10:30+02:00", "CREDIT-1"),  # out of order: would see the 11:00 use
        _scan("2026-06-01T11:00+02:00", "CREDIT-1"),  # equal to the latest good time: in order
    )
    code, out, _ = run("replay", str(scans))
    first, second, late, fourth = _results(out)
    assert code == 1
    assert (first["admitted"], second["admitted"]) == (1, 1)
    assert late == {
        "line": 3,
        "error": "at: 2026-06-01T10:30+02:00 is earlier than line 2's 2026-06-01T11:00+02:00: "
        "a replay decides scans in time order (sort the file by at)",
    }
    assert (fourth["line"], fourth["verdict"]) == (4, "admit")


def test_values_are_never_coerced(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        _scan(NOON, party="2"),
        _scan(NOON, party=2.0),
        _scan(NOON, passed=True),
        _scan(NOON, record="false"),
        _scan(NOON, items="entry-adult"),
    )
    code, out, _ = run("replay", str(scans))
    results = _results(out)
    assert code == 1
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5]
    assert [str(r["error"]).split(":")[0] for r in results] == ["party", "party", "passed", "record", "items"]
    assert "verdict" not in out


def test_times_outside_the_range_and_bytes_that_are_not_text_are_bad_lines(run: Run, tmp_path: Path) -> None:
    scans = _scans(tmp_path, _scan("9999-12-31T23:59:59+00:00"), _scan("0001-01-01T00:30:00+14:00"), _scan(NOON))
    with scans.open("ab") as file:
        file.write(b'{"at": "2026-06-01T12:05+02:00", "lane": "north-1", "code": "TICKET-\xff"}\n')
        file.write(b'{"at": "2026-06-01T12:06+02:00", "lane": "north-1", "code": "MEMBER-1"}' + b" " * 300_000 + b"\n")
        file.write(json.dumps(_scan("2026-06-01T12:07+02:00", "MEMBER-1")).encode() + b"\n")
    code, out, err = run("replay", str(scans))
    results = _results(out)
    assert code == 1
    assert err == ""
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5, 6]
    assert str(results[0]["error"]).startswith("at: '9999-12-31T23:59:59+00:00': outside the times gate decides on")
    assert str(results[1]["error"]).startswith("at: '0001-01-01T00:30:00+14:00': outside the times gate decides on")
    assert results[2]["verdict"] == "admit"
    assert results[3]["error"] == "not UTF-8 (byte 69)"
    assert results[4]["error"] == "longer than 200000 characters"
    assert results[5]["verdict"] == "admit"


def test_in_place_a_file_with_a_bad_line_records_nothing(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        _scan("2026-06-01T10:00+02:00"),
        _scan("2026-06-01T10:05+02:00", "CREDIT-1", party=2),
        _scan("2026-06-01T09:00+02:00", "MEMBER-1"),
    )
    code, out, err = run("replay", str(scans), "--in-place")
    assert code == 2
    assert _results(out) == [
        {
            "line": 3,
            "error": "at: 2026-06-01T09:00+02:00 is earlier than line 2's 2026-06-01T10:05+02:00: "
            "a replay decides scans in time order (sort the file by at)",
        }
    ]
    assert err == f"gate: {scans}: 1 bad line(s): nothing recorded (--in-place replays whole files)\n"
    # Nothing was recorded: the ticket still admits its two and the credits are all there.
    assert last_json(run("check", "TICKET-1", "--at", NOON, "--json")[1])["admitted"] == 2
    assert last_json(run("check", "CREDIT-1", "--at", NOON, "--party", "1", "--json")[1])["balance"] == 2
