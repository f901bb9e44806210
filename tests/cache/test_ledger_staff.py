"""Staff records in the ledger: imported, replaced by a higher version, deleted by a tombstone,
exported again; a bad role, a name that is an e-mail or a phone number, or a PIN that is not a
hash refuses the file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger, LedgerImportError
from gate.staff import hash_pin, verify_pin

from .helpers import EXAMPLE

PIN_HASH = hash_pin("246813")


def staff(id_: str = "s-1", version: int = 1, **fields: Any) -> str:
    record = {"type": "staff", "id": id_, "version": version, "role": "steward", "name": "Marie D.", **fields}
    return json.dumps(record)


def problems(ledger: Ledger, *lines: str) -> dict[int, tuple[str, str]]:
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_lines(lines, source="staff.jsonl")
    return {p.line: (p.field, p.message) for p in caught.value.problems}


def test_the_example_staff_member_is_found_with_the_pin_it_was_made_from(ledger: Ledger) -> None:
    member = ledger.staff("s-17")
    assert member is not None
    assert (member.role, member.name) == ("supervisor", "Marie D.")
    assert member.valid_until is not None and member.valid_until.isoformat() == "2026-12-31T23:59:59+00:00"
    assert member.pin is not None and verify_pin(member.pin, "246813")
    assert ledger.staff("s-404") is None


def test_a_staff_record_round_trips_through_export_and_a_tombstone_removes_it(ledger: Ledger, tmp_path: Path) -> None:
    report = ledger.import_lines([staff("s-1", 1, pin=PIN_HASH), staff("s-2", 1, role="supervisor")], source="a")
    assert report.applied == {"staff": 2}
    out = io.StringIO()
    ledger.export(out)
    lines = [line for line in out.getvalue().splitlines() if '"type":"staff"' in line]
    assert [json.loads(line)["id"] for line in lines] == ["s-1", "s-17", "s-2"]
    assert json.loads(lines[0])["pin"] == PIN_HASH
    with Ledger.open(tmp_path / "copy.sqlite") as copy:
        copy.import_lines(out.getvalue().splitlines(), source="export")
        assert copy.staff("s-1") == ledger.staff("s-1")
        assert [m.id for m in copy.staff_members()] == ["s-1", "s-17", "s-2"]

    tombstone = json.dumps({"type": "staff", "id": "s-1", "version": 2, "deleted": True})
    report = ledger.import_lines([tombstone], source="b")
    assert report.deleted == {"staff": 1}
    assert ledger.staff("s-1") is None
    # An older version arriving late does not bring a removed member back; a newer one does.
    assert not ledger.import_lines([staff("s-1", 1, pin=PIN_HASH)], source="late").changed
    assert ledger.staff("s-1") is None
    out = io.StringIO()
    ledger.export(out)
    assert '{"type":"staff","id":"s-1","version":2,"deleted":true}' in out.getvalue().splitlines()
    ledger.import_lines([staff("s-1", 3, role="supervisor")], source="back")
    assert ledger.staff("s-1").role == "supervisor"  # type: ignore[union-attr]


def test_a_higher_version_changes_the_role_and_the_pin_a_lower_one_nothing(ledger: Ledger) -> None:
    ledger.import_lines([staff("s-1", 2, pin=PIN_HASH)], source="v2")
    new_hash = hash_pin("13579")
    assert ledger.import_lines([staff("s-1", 1, role="supervisor", pin=new_hash)], source="v1").unchanged == {
        "staff": 1}
    assert ledger.staff("s-1").role == "steward"  # type: ignore[union-attr]
    ledger.import_lines([staff("s-1", 3, pin=new_hash)], source="v3")
    member = ledger.staff("s-1")
    assert member is not None and member.pin is not None
    assert verify_pin(member.pin, "13579") and not verify_pin(member.pin, "246813")


def test_a_badge_only_member_has_no_pin_and_a_full_name_is_reduced(ledger: Ledger) -> None:
    ledger.import_lines([staff("s-3", name="Jean-Luc van der Berg")], source="badge only")
    member = ledger.staff("s-3")
    assert member is not None
    assert (member.name, member.pin) == ("Jean-Luc B.", None)
    assert "Jean" not in repr(member)  # a repr that reaches a log names nobody


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"role": "manager"}, "role", "Input should be 'steward' or 'supervisor'"),
        ({"name": "marie.dupont@example.org"}, "name", "looks like an e-mail address: give a first name and initial"),
        ({"name": "Marie +33 6 12 34 56 78"}, "name", "looks like a phone number: give a first name and initial"),
        ({"name": "  "}, "name", "a name is required: first name and initial"),
        ({"pin": "246813"}, "pin",
         "not a PIN hash of the form scrypt$n=N,r=R,p=P$<salt>$<hash> (see `gate staff pin`)"),
        ({"pin": PIN_HASH.replace("n=8192", "n=1048576")}, "pin", "scrypt n must be a power of two up to 65536"),
        ({"pin": PIN_HASH.replace("n=8192", "n=1000")}, "pin", "scrypt n must be a power of two up to 65536"),
        ({"email": "m@example.org"}, "email", "personal data is not allowed on a gate: 'email'"),
        ({"valid_until": "2026-12-31T23:59:59"}, "valid_until",
         "a time needs its UTC offset, e.g. 2025-05-01T09:00:00+02:00"),
    ],
    ids=["role", "email", "phone", "blank", "plain-pin", "huge-n", "odd-n", "email-key", "naive-time"],
)
def test_a_bad_staff_line_refuses_the_whole_file(ledger: Ledger, fields: dict[str, Any], field: str,
                                                 message: str) -> None:  # fmt: skip
    found = problems(ledger, staff("s-ok"), staff("s-bad", **fields))
    assert found == {2: (field, message)}
    assert ledger.staff("s-ok") is None  # all or nothing
    assert "marie.dupont" not in message and "12 34" not in message


def test_the_pin_hash_is_never_in_an_import_problem(ledger: Ledger) -> None:
    broken = PIN_HASH[:-6] + "!!!!!!"
    found = problems(ledger, staff("s-1", pin=broken))
    assert broken not in json.dumps(found)


def test_the_example_file_still_imports_into_a_fresh_ledger(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "fresh.sqlite") as fresh:
        report = fresh.import_file(EXAMPLE)
        assert report.applied["staff"] == 1
        assert fresh.stats()["records"]["staff"] == 1
