"""`gate check`: one decision from a shell, and a clear answer for any bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Run, last_json

NOON = "2026-06-01T12:00+02:00"


def test_a_member_is_admitted_with_name_reduced_and_text(run: Run) -> None:
    code, out, _ = run("check", "member-1", "--at", NOON, "--json")
    decision = last_json(out)
    assert code == 0
    assert decision["verdict"] == "admit"
    assert decision["reason"] == "ok"
    assert decision["entitlement"] == "m1"
    assert decision["holder"] == "Marie D."
    assert "Marie D." in decision["text"]["visitor"]
    assert "Dupont" not in out


def test_check_records_nothing_unless_commit(run: Run) -> None:
    for _ in range(2):
        assert run("check", "TICKET-1", "--at", NOON, "--json")[0] == 0
    code, out, _ = run("check", "TICKET-1", "--at", NOON, "--commit", "--json")
    assert code == 0
    assert last_json(out)["admitted"] == 2
    assert last_json(out)["redemption"]
    code, out, _ = run("check", "TICKET-1", "--at", "2026-06-01T12:05+02:00", "--json")
    assert code == 1
    assert last_json(out)["reason"] == "already_used"


def test_an_old_card_of_a_renewed_membership_finds_the_renewal(run: Run) -> None:
    code, out, _ = run("check", "OLD-CARD", "--at", NOON, "--json")
    assert code == 0
    assert last_json(out)["entitlement"] == "m1"


def test_human_output_is_one_line_with_verdict_and_reason(run: Run) -> None:
    code, out, _ = run("check", "nobody", "--at", NOON)
    assert code == 1
    assert out.startswith("DENY")
    assert "unknown_code" in out


def test_garbage_reads_are_refused_not_crashed_on(run: Run) -> None:
    for garbage in ("\udcff\udcfe\udc00binary", "x" * 100_000, "   ", "A\x07B"):
        code, out, err = run("check", garbage, "--at", NOON, "--json")
        assert code == 1, garbage[:20]
        assert last_json(out)["reason"] == "unreadable"
        assert err == ""


def test_bad_arguments_get_one_precise_line_and_status_2(run: Run, tmp_path: Path) -> None:
    code, _, err = run("check", "MEMBER-1", "--at", "2026-06-01T12:00")
    assert code == 2
    assert "has no time zone" in err
    code, _, err = run("check", "MEMBER-1", "--at", NOON, "--lane", "south-9")
    assert code == 2
    assert "unknown lane 'south-9' (lanes: kiosk, north-1)" in err
    code, _, err = run("check", "MEMBER-1", "--at", "tomorrow")
    assert code == 2
    assert "not an ISO 8601 time: 'tomorrow'" in err


def test_a_missing_or_foreign_ledger_is_named(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    text = (tmp_path / "gate.toml").read_text()
    config.write_text(text.replace("ledger.sqlite", "nowhere/ledger.sqlite"))
    code, _, err = run("check", "MEMBER-1", "--at", NOON, config=config)
    assert code == 2
    assert "no ledger at" in err
    (tmp_path / "notes.sqlite").write_text("just some text\n" * 100)
    config.write_text(text.replace("ledger.sqlite", "notes.sqlite"))
    code, _, err = run("check", "MEMBER-1", "--at", NOON, config=config)
    assert code == 2
    assert "not" in err and "notes.sqlite" in err
    assert "Traceback" not in err


def test_the_console_script_runs_as_a_real_process(venue: Path) -> None:
    env = {**os.environ, "GATE_CONFIG": str(venue)}
    done = subprocess.run(
        [sys.executable, "-m", "gate", "check", "MEMBER-1", "--at", NOON, "--json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"verdict": "admit"' in done.stdout


def test_json_names_the_items_credits_cover_and_what_is_left_to_pay(run: Run) -> None:
    # CREDIT-1 holds 3 credits for entry-adult (15.00), the product of lane north-1.
    code, out, _ = run("check", "CREDIT-1", "--at", NOON, "--party", "2", "--json")
    decision = last_json(out)
    assert code == 0
    assert decision["covered"] == ["entry-adult", "entry-adult"]
    assert decision["to_pay"] == {"amount": 0, "currency": "EUR", "text": "€0.00"}
    code, out, _ = run("check", "CREDIT-1", "--at", NOON, "--party", "5", "--json")
    decision = last_json(out)
    assert (decision["reason"], decision["admitted"]) == ("partial", 3)
    assert decision["covered"] == ["entry-adult"] * 3
    assert decision["to_pay"] == {"amount": 3000, "currency": "EUR", "text": "€30.00"}
    assert "€30.00 to pay" in decision["text"]["visitor"]
    # Other kinds carry neither.
    decision = last_json(run("check", "MEMBER-1", "--at", NOON, "--json")[1])
    assert (decision["covered"], decision["to_pay"]) == ([], None)


def test_money_is_in_the_sites_currency_and_language(run: Run, venue: Path) -> None:
    config = venue.read_text().replace("[zones.main]", 'currency = "GBP"\n\n[zones.main]')
    venue.write_text(config.replace("[ledger]", '[engine]\nlanguage = "fr"\n\n[ledger]'))
    _, out, _ = run("check", "CREDIT-1", "--at", NOON, "--party", "5", "--json")
    assert last_json(out)["to_pay"] == {"amount": 3000, "currency": "GBP", "text": "30,00\u00a0£"}
    _, out, _ = run("check", "CREDIT-1", "--at", NOON, "--party", "5")
    assert "30,00\u00a0£ à payer" in out


def test_a_currency_that_is_no_iso_code_is_refused(run: Run, venue: Path) -> None:
    venue.write_text(venue.read_text().replace("[zones.main]", 'currency = "€"\n\n[zones.main]'))
    code, _, err = run("config", "check", str(venue), config=None)
    assert code == 2
    assert "site.currency: not an ISO 4217 currency code: '€' (three capital letters, e.g. EUR)" in err
