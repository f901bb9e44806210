"""`gate staff pin`, `gate staff list` and `gate issue --kind staff`: from a PIN typed at a
terminal to a staff record in the ledger, and from a staff key to a badge that logs in."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import zxingcpp

from gate.cache import Ledger
from gate.credentials import check_badge
from gate.staff import verify_pin
from tests.cli.conftest import Run

ROOT = Path(__file__).resolve().parents[2]


def typed(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def ledger_path(config: Path) -> Path:
    return config.parent / "ledger.sqlite"


def test_a_pin_from_stdin_becomes_a_staff_record_that_imports_and_lists_without_its_hash(
    run: Run, venue: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed(monkeypatch, "246813\n")
    code, out, _ = run("staff", "pin", "--id", "s-17", "--role", "supervisor", "--name", "Marie Dupont",
                       "--valid-until", "2026-12-31T23:59+01:00")  # fmt: skip
    assert code == 0
    line = json.loads(out)
    assert {k: line[k] for k in ("type", "id", "version", "role", "name", "valid_until")} == {
        "type": "staff", "id": "s-17", "version": 1, "role": "supervisor", "name": "Marie D.",
        "valid_until": "2026-12-31T23:59:00+01:00",
    }  # fmt: skip
    assert "246813" not in out
    (tmp_path / "staff.jsonl").write_text(out)
    badge_only = {"type": "staff", "id": "s-2", "version": 1, "role": "steward", "name": "Jonas K."}
    (tmp_path / "badge.jsonl").write_text(json.dumps(badge_only) + "\n")
    assert run("ledger", "import", str(tmp_path / "staff.jsonl"))[0] == 0
    assert run("ledger", "import", str(tmp_path / "badge.jsonl"))[0] == 0

    with Ledger.open(ledger_path(venue), create=False) as ledger:
        member = ledger.staff("s-17")
        assert member is not None and member.pin is not None
        assert verify_pin(member.pin, "246813") and not verify_pin(member.pin, "246812")

    code, out, _ = run("staff", "list")
    assert code == 0
    assert out.splitlines()[0].split() == ["s-17", "supervisor", "Marie", "D.", "until", "2026-12-31T23:59+01:00",
                                           "PIN", "and", "badge"]  # fmt: skip
    assert out.splitlines()[1].split() == ["s-2", "steward", "Jonas", "K.", "no", "end", "badge", "only"]
    assert "scrypt" not in out
    code, out, _ = run("staff", "list", "--json")
    assert json.loads(out.splitlines()[0]) == {
        "id": "s-17", "name": "Marie D.", "role": "supervisor", "valid_until": "2026-12-31T23:59+01:00", "pin": True,
        "valid": dt.datetime.now(dt.UTC) < dt.datetime(2026, 12, 31, 22, 59, tzinfo=dt.UTC),
    }  # fmt: skip


def test_only_the_hash_and_bad_input_refused_before_anything_is_printed(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed(monkeypatch, "0042\n")
    code, out, _ = run("staff", "pin", "--hash-only")
    assert code == 0 and out.startswith("scrypt$n=8192,r=8,p=1$") and verify_pin(out.strip(), "0042")
    for pin in ("42\n", "12ab\n", "\n", ""):
        typed(monkeypatch, pin)
        code, out, err = run("staff", "pin", "--hash-only")
        assert (code, out) == (2, "") and "a PIN is 4 to 12 digits" in err
    typed(monkeypatch, "246813\n")
    code, out, err = run("staff", "pin", "--id", "s-1", "--role", "steward", "--name", "marie@example.org")
    assert (code, out) == (2, "")
    assert "--name: looks like an e-mail address" in err and "example.org" not in err
    code, _, err = run("staff", "pin", "--id", "s-1", "--role", "steward")
    assert code == 2 and "give --id, --role and --name" in err
    code, _, err = run("staff", "pin", "--id", "s-1", "--role", "steward", "--name", "Ann B.", "--valid-until",
                       "2026-12-31T23:59")  # fmt: skip
    assert code == 2 and "has no time zone" in err


def _gate_on_a_terminal(*argv: str, keys: list[str]) -> tuple[int, str, str]:
    """Run gate with a pseudo-terminal as its stdin and stderr, typing `keys` at its prompts."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-m", "gate", *argv], stdin=slave, stdout=subprocess.PIPE,
                          stderr=slave, env=env, cwd=ROOT) as proc:  # fmt: skip
        os.close(slave)
        seen = b""
        for key in keys:
            while b"PIN" not in seen.rsplit(b"\n", 1)[-1]:
                ready, _, _ = select.select([master], [], [], 20)
                assert ready, f"no prompt; so far {seen!r}"
                seen += os.read(master, 1024)
            seen += b"\n"  # what follows the prompt is the next read's
            os.write(master, key.encode() + b"\n")
        out = proc.communicate(timeout=60)[0].decode()
        try:
            while select.select([master], [], [], 0.2)[0]:
                seen += os.read(master, 1024)
        except OSError:
            pass  # the terminal closed with the process
        os.close(master)
    return proc.returncode, out, seen.decode(errors="replace")


def test_at_a_terminal_the_pin_is_asked_twice_and_never_echoed() -> None:
    code, out, terminal = _gate_on_a_terminal("staff", "pin", "--id", "s-9", "--role", "steward", "--name", "Lea M.",
                                              keys=["97531", "97531"])  # fmt: skip
    assert code == 0
    assert "PIN (4 to 12 digits):" in terminal and "PIN again:" in terminal
    assert "97531" not in terminal and "97531" not in out
    assert verify_pin(json.loads(out)["pin"], "97531")

    code, out, terminal = _gate_on_a_terminal("staff", "pin", "--hash-only", keys=["97531", "97532"])
    assert (code, out) == (2, "")
    assert "the two PINs differ" in terminal


def test_a_staff_badge_is_issued_with_a_staff_key_and_logs_its_holder_in(
    run: Run, venue: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run("keys", "generate", "--id", "badges-2026", "--purpose", "staff", "--out", str(tmp_path))
    (tmp_path / "key.jsonl").write_text(out)
    typed(monkeypatch, "246813\n")
    (tmp_path / "staff.jsonl").write_text(run("staff", "pin", "--id", "s-17", "--role", "supervisor", "--name",
                                              "Marie D.")[1])  # fmt: skip
    assert run("ledger", "import", str(tmp_path / "key.jsonl"))[0] == 0
    assert run("ledger", "import", str(tmp_path / "staff.jsonl"))[0] == 0

    image = tmp_path / "badge.png"
    code, out, err = run("issue", "--kind", "staff", "--key", str(tmp_path / "badges-2026.key"), "--id", "badge-17a",
                         "--staff", "s-17", "--role", "supervisor", "--until", "2027-06-01T00:00Z",
                         "--out", str(image))  # fmt: skip
    assert code == 0, err
    text = out.strip()
    read = zxingcpp.read_barcodes(cv2.imread(str(image), cv2.IMREAD_GRAYSCALE))
    assert [r.text for r in read] == [text]
    with Ledger.open(ledger_path(venue), create=False) as ledger:
        badge = check_badge(ledger, read[0].text, dt.datetime.now(dt.UTC))
    assert (badge.staff_id, badge.role, badge.credential_id) == ("s-17", "supervisor", "badge-17a")

    base = ["issue", "--kind", "staff", "--key", str(tmp_path / "badges-2026.key"), "--id", "b", "--until",
            "2027-06-01T00:00Z"]  # fmt: skip
    code, _, err = run(*base, "--staff", "s-17")
    assert code == 2 and "needs --staff ID and --role" in err
    code, _, err = run(*base, "--staff", "s-17", "--role", "steward", "--pax", "2")
    assert code == 2 and "not for a staff badge" in err
    code, _, err = run("issue", "--key", str(tmp_path / "badges-2026.key"), "--id", "t", "--until", "2027-06-01T00:00Z")
    assert code == 2 and "--from is required" in err
    code, _, err = run("issue", "--key", str(tmp_path / "badges-2026.key"), "--id", "t", "--role", "steward",
                       "--from", "2027-05-01T00:00Z", "--until", "2027-06-01T00:00Z")  # fmt: skip
    assert code == 2 and "--staff and --role are for --kind staff" in err
