"""`gate replay`: a day of scans in order, recorded as they go, one decision per line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Run


def _scans(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "scans.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def _decisions(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_a_day_of_scans_uses_up_what_earlier_scans_used(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "TICKET-1", "party": 1},
        {"at": "2026-06-01T10:01+02:00", "lane": "north-1", "code": "TICKET-1", "party": 2},
        {"at": "2026-06-01T10:02+02:00", "lane": "north-1", "code": "CREDIT-1", "party": 2},
        {"at": "2026-06-01T10:03+02:00", "lane": "north-1", "code": "CREDIT-1", "party": 2},
    )
    code, out, _ = run("replay", str(scans))
    first, second, credit1, credit2 = _decisions(out)
    assert code == 0
    assert (first["verdict"], first["admitted"]) == ("admit", 1)
    # one of two places left: a party of two gets one in and is told the other needs a ticket
    assert (second["reason"], second["admitted"]) == ("partial", 1)
    assert (credit1["admitted"], credit1["balance"]) == (2, 1)
    assert (credit2["reason"], credit2["admitted"], credit2["balance"]) == ("partial", 1, 0)


def test_only_those_who_passed_are_consumed(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "CREDIT-1", "party": 2, "passed": 1},
        {"at": "2026-06-01T10:05+02:00", "lane": "north-1", "code": "CREDIT-1", "party": 1},
    )
    _, out, _ = run("replay", str(scans))
    assert [d["balance"] for d in _decisions(out)] == [1, 1]


def test_replay_leaves_the_real_ledger_alone_unless_in_place(run: Run, tmp_path: Path) -> None:
    scan = {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "TICKET-1"}
    scans = _scans(tmp_path, scan)
    run("replay", str(scans))
    run("replay", str(scans))
    code, out, _ = run("check", "TICKET-1", "--at", "2026-06-01T11:00+02:00", "--json")
    assert code == 0
    run("replay", str(scans), "--in-place")
    code, out, _ = run("check", "TICKET-1", "--at", "2026-06-01T11:00+02:00", "--json")
    assert code == 1
    assert json.loads(out)["reason"] == "already_used"


def test_bad_lines_are_answered_and_the_rest_goes_on(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        "{not json",
        {"at": "2026-06-01T10:00", "lane": "north-1", "code": "TICKET-1"},
        {"at": "2026-06-01T10:00+02:00", "lane": "south", "code": "TICKET-1"},
        {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "TICKET-1", "colour": "red"},
        {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "TICKET-1", "party": 0},
        {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "TICKET-1"},
    )
    code, out, _ = run("replay", str(scans))
    results = _decisions(out)
    assert code == 1
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5, 6]
    assert "error" in results[0]
    assert "has no time zone" in str(results[1]["error"])
    assert "unknown lane 'south'" in str(results[2]["error"])
    assert "colour" in str(results[3]["error"])
    assert "party" in str(results[4]["error"])
    assert results[5]["verdict"] == "admit"


def test_exit_and_reentry_through_replay(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "MEMBER-1"},
        {"at": "2026-06-01T12:00+02:00", "lane": "north-1", "code": "MEMBER-1", "direction": "exit"},
    )
    _, out, _ = run("replay", str(scans))
    entry, leave = _decisions(out)
    assert entry["verdict"] == leave["verdict"] == "admit"
    assert leave["reason"] == "exit"


def test_a_missing_scans_file_is_named(run: Run, tmp_path: Path) -> None:
    code, _, err = run("replay", str(tmp_path / "none.jsonl"))
    assert code == 2
    assert "no scans file" in err


def test_each_decision_names_what_credits_cover_and_what_is_left_to_pay(run: Run, tmp_path: Path) -> None:
    scans = _scans(
        tmp_path,
        {"at": "2026-06-01T10:00+02:00", "lane": "north-1", "code": "CREDIT-1", "party": 2},
        {"at": "2026-06-01T10:05+02:00", "lane": "north-1", "code": "CREDIT-1", "party": 3},
        {"at": "2026-06-01T10:10+02:00", "lane": "north-1", "code": "TICKET-1"},
    )
    _, out, _ = run("replay", str(scans))
    first, second, ticket = _decisions(out)
    assert first["covered"] == ["entry-adult", "entry-adult"]
    assert first["to_pay"] == {"amount": 0, "currency": "EUR", "text": "€0.00"}
    assert second["covered"] == ["entry-adult"]
    assert second["to_pay"] == {"amount": 3000, "currency": "EUR", "text": "€30.00"}
    assert (ticket["covered"], ticket["to_pay"]) == ([], None)
