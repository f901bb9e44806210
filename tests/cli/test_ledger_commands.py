"""`gate ledger import|export|stats`, `gate activity` and `gate balance`."""

from __future__ import annotations

import json
from pathlib import Path

from gate.cli.config import config_reference
from tests.cli.conftest import Run
from tests.configs import write_config


def test_a_bad_file_changes_nothing_and_names_line_field_and_problem(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"type": "entitlement", "kind": "ticket", "id": "t2", "version": 1, "day": "2026-06-01",
                    "references": ["NEW-1"]}) + "\n"
        + json.dumps({"type": "entitlement", "kind": "ticket", "id": "t3", "version": 1, "day": "June",
                      "references": ["NEW-2"]}) + "\n"
    )
    code, _, err = run("ledger", "import", str(bad))
    assert code == 2
    assert "line 2" in err and "day" in err
    code, out, _ = run("check", "NEW-1", "--at", "2026-06-01T12:00+02:00", "--json")
    assert json.loads(out)["reason"] == "unknown_code"


def test_export_then_import_changes_nothing(run: Run, tmp_path: Path) -> None:
    exported = tmp_path / "export.jsonl"
    assert run("ledger", "export", "-o", str(exported))[0] == 0
    lines = exported.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header"
    assert any('"MEMBER-1"' in line for line in lines)
    code, _, _ = run("ledger", "import", str(exported))
    assert code == 0
    _, again, _ = run("ledger", "export")
    assert again.splitlines() == lines


def test_stats_count_what_is_in_the_ledger(run: Run) -> None:
    run("check", "TICKET-1", "--at", "2026-06-01T12:00+02:00", "--commit")
    run("check", "NOBODY", "--at", "2026-06-01T12:00+02:00", "--commit")
    code, out, _ = run("ledger", "stats", "--json")
    stats = json.loads(out)
    assert code == 0
    assert stats["records"]["holder"] == 1
    assert stats["records"]["product"] == 2
    assert stats["entitlements"] == {"credit_membership": 1, "membership": 2, "ticket": 1}
    assert stats["references"] == 4
    assert stats["redemptions"]["committed"] == 1
    assert stats["journal"] == 2  # the committed ticket and the refused unknown code
    assert stats["inside"] == 2  # the ticket's two persons went in


def test_activity_lists_every_use_newest_first_across_renewals(run: Run, tmp_path: Path) -> None:
    for at in ("2026-01-05T10:00+01:00", "2026-06-01T10:00+02:00", "2026-06-02T10:00+02:00"):
        code, _, _ = run("check", "MEMBER-1", "--at", at, "--commit")
        assert code == 0
    code, out, _ = run("activity", "OLD-CARD", "--json")
    uses = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [u["at"][:10] for u in uses] == ["2026-06-02", "2026-06-01", "2026-01-05"]
    assert [u["entitlement"] for u in uses] == ["m1", "m1", "m-old"]


def test_balance_shows_credits_left_per_membership(run: Run) -> None:
    run("check", "CREDIT-1", "--at", "2026-06-01T10:00+02:00", "--party", "2", "--commit")
    code, out, _ = run("balance", "h1", "--json")
    balance = json.loads(out)
    assert code == 0
    assert balance["memberships"][0]["used"] == 2
    assert balance["memberships"][0]["remaining"] == 1
    code, _, err = run("balance", "nobody")
    assert code == 2
    assert "no credit membership" in err


def test_config_check_lists_every_problem(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    write_config(bad, site={"timezone": "Mars/Olympus"}, zones=None, lanes=None)
    code, _, err = run("config", "check", str(bad), config=None)
    assert code == 2
    assert "site.timezone" in err and "zones" in err and "lanes" in err
    code, out, _ = run("config", "check", str(tmp_path / "gate.toml"), config=None)
    assert code == 0
    assert "ok" in out


def test_docs_config_md_lists_every_key() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "config.md").read_text()
    assert config_reference() in doc, "docs/config.md is stale: run `gate config doc` and paste its table"
