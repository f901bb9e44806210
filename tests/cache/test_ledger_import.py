"""Importing the exchange format: all or nothing, versions, tombstones, every problem at once."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from gate.cache import ImportProblem, Ledger, LedgerImportError
from gate.records import RECORD_TYPES

from .helpers import EXAMPLE


def line(**fields: Any) -> str:
    return json.dumps(fields)


def holder(id_: str, version: int, name: str = "Ada Lovelace", **extra: Any) -> str:
    return line(type="holder", id=id_, version=version, display_name=name, **extra)


def ticket(id_: str, version: int, *references: str, **extra: Any) -> str:
    return line(type="entitlement", kind="ticket", id=id_, version=version, references=list(references),
                performance="hamlet-2025-10-03", **extra)  # fmt: skip


def exported(ledger: Ledger) -> str:
    out = io.StringIO()
    ledger.export(out)
    return out.getvalue()


def test_the_documented_example_imports_every_record_type_and_kind(ledger: Ledger) -> None:
    stats = ledger.stats()
    assert all(stats["records"][t] > 0 for t in RECORD_TYPES)
    assert set(stats["entitlements"]) == {
        "membership", "credit_membership", "subscription", "reservation", "voucher", "ticket",
    }  # fmt: skip
    assert stats["tombstones"] == 1
    assert ledger.holder("h-1001") is not None
    assert ledger.holder("h-0999") is None  # deleted by the example's tombstone
    assert ledger.resolve(" cm77 B ") == ("cm-77",)


def test_reimporting_a_file_changes_nothing(ledger: Ledger) -> None:
    revision, before = ledger.revision, exported(ledger)
    report = ledger.import_file(EXAMPLE)
    assert not report.changed
    assert sum(report.applied.values()) == 0
    assert sum(report.unchanged.values()) == report.lines == 27
    assert ledger.revision == revision
    assert exported(ledger) == before


def test_export_import_export_is_identical(ledger: Ledger, tmp_path: Path) -> None:
    first = exported(ledger)
    assert first.splitlines()[0] == '{"type":"header","format":"gate-ledger","version":1}'
    with Ledger.open(tmp_path / "copy.sqlite") as copy:
        copy.import_lines(first.splitlines(), source="export")
        assert exported(copy) == first
    # Importing its own export into the same ledger changes nothing either.
    assert not ledger.import_lines(first.splitlines(), source="export").changed


def test_export_is_in_type_order_then_id(ledger: Ledger) -> None:
    rows = [json.loads(text) for text in exported(ledger).splitlines()[1:]]
    keys = [(RECORD_TYPES.index(row["type"]), row["id"]) for row in rows]
    assert keys == sorted(keys)


def test_a_higher_version_replaces_a_lower_one_never_the_reverse(ledger: Ledger) -> None:
    ledger.import_lines([holder("h-5", 2, "Ada Lovelace")], source="a")
    report = ledger.import_lines([holder("h-5", 1, "Grace Hopper")], source="b")
    assert report.unchanged == {"holder": 1}
    assert ledger.holder("h-5").display_name == "Ada L."  # type: ignore[union-attr]
    report = ledger.import_lines([holder("h-5", 3, "Grace Hopper")], source="c")
    assert report.applied == {"holder": 1}
    assert ledger.holder("h-5").display_name == "Grace H."  # type: ignore[union-attr]


def test_the_highest_version_in_one_file_wins_whatever_the_order(ledger: Ledger) -> None:
    ledger.import_lines([ticket("t-9", 3, "NEW"), ticket("t-9", 1, "OLD"), ticket("t-9", 2, "MID")], source="f")
    assert ledger.resolve("NEW") == ("t-9",)
    assert ledger.resolve("OLD") == ledger.resolve("MID") == ()


def test_a_new_version_replaces_the_references(ledger: Ledger) -> None:
    ledger.import_lines([ticket("t-9", 1, "A-1", "A-2")], source="v1")
    ledger.import_lines([ticket("t-9", 2, "A-2", "B-1")], source="v2")
    assert ledger.resolve("A-1") == ()
    assert ledger.resolve("a-2") == ledger.resolve(" b-1 ") == ("t-9",)


def test_a_tombstone_deletes_and_an_older_upsert_cannot_resurrect(ledger: Ledger) -> None:
    ledger.import_lines([ticket("t-9", 1, "GONE")], source="v1")
    report = ledger.import_lines([line(type="entitlement", id="t-9", version=2, deleted=True)], source="delete")
    assert report.deleted == {"entitlement": 1}
    assert ledger.resolve("GONE") == ()
    assert ledger.entitlements(["t-9"]) == []
    report = ledger.import_lines([ticket("t-9", 1, "GONE")], source="late")
    assert report.unchanged == {"entitlement": 1}
    assert ledger.resolve("GONE") == ()
    report = ledger.import_lines([ticket("t-9", 2, "GONE")], source="same version")
    assert ledger.resolve("GONE") == ()
    ledger.import_lines([ticket("t-9", 3, "BACK")], source="recreated")
    assert ledger.resolve("BACK") == ("t-9",)


def test_a_tombstone_older_than_the_record_is_ignored(ledger: Ledger) -> None:
    report = ledger.import_lines([line(type="holder", id="h-1002", version=1, deleted=True)], source="old")
    assert report.deleted == {}
    assert ledger.holder("h-1002") is not None


def test_a_renewals_old_reference_resolves_to_the_renewal(ledger: Ledger) -> None:
    assert ledger.resolve("MEM-0042-2024") == ("m-2025-0042",)
    assert ledger.resolve("MEM-0042-2025") == ("m-2025-0042",)


def test_a_renewal_arriving_before_the_renewed_membership_still_takes_over(tmp_path: Path) -> None:
    renewal = line(type="entitlement", kind="membership", id="m-2", version=1, references=["NEW-CARD"],
                   valid_from="2025-01-01", expires_on="2025-12-31", renews="m-1")  # fmt: skip
    old = line(type="entitlement", kind="membership", id="m-1", version=1, references=["OLD-CARD"],
               valid_from="2024-01-01", expires_on="2024-12-31")  # fmt: skip
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        ledger.import_lines([renewal], source="first")
        ledger.import_lines([old], source="second")
        assert ledger.resolve("OLD-CARD") == ("m-2",)


def test_references_to_unknown_events_and_products_are_accepted(ledger: Ledger) -> None:
    report = ledger.import_lines(
        [line(type="entitlement", kind="ticket", id="t-x", version=1, performance="not-yet-known", product="later")],
        source="early",
    )
    assert report.applied == {"entitlement": 1}


def test_one_bad_line_among_good_ones_changes_nothing(ledger: Ledger) -> None:
    before, revision = exported(ledger), ledger.revision
    lines = [
        holder("h-7", 1),
        ticket("t-7", 1, "SEVEN"),
        line(type="entitlement", kind="membership", id="m-7", version=1, valid_from="2025-13-01"),
        line(type="holder", id="h-1001", version=9, deleted=True),
    ]
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_lines(lines, source="batch.jsonl")
    assert caught.value.problems == (ImportProblem(3, "valid_from", caught.value.problems[0].message),)
    assert "month" in caught.value.problems[0].message
    assert "batch.jsonl: 1 problem(s), nothing imported" in str(caught.value)
    assert "line 3: valid_from:" in str(caught.value)
    assert exported(ledger) == before
    assert ledger.revision == revision
    assert ledger.resolve("SEVEN") == ()


def test_every_problem_is_reported_at_once_with_line_field_and_message(ledger: Ledger) -> None:
    lines = [
        '{"type":"header","format":"gate-ledger","version":1}',
        "",
        '{"type": "holder", "id": "h-1", "version": 1, "display_name": "Ann Smith"',
        '{"type": "ghost", "id": "g-1", "version": 1}',
        line(type="entitlement", kind="ticket", id="t-1", version=1),
        line(type="product", id="p-1", version=1, name="Entry", colour="red"),
        line(type="performance", id="p-9", version=1, event="e", starts_at="2025-10-04T20:00:00"),
        line(type="entitlement", kind="membership", id="m-1", version="two", valid_from="2025-01-01",
             expires_on="2025-12-31", benefits=[{"kind": "entry", "access": {"limits": [{"per": "year"}]}}]),
        line(type="entitlement", kind="voucher", id="v-1", version=1),
        line(type="holder", id="h-2", version=1),
        line(type="entitlement", kind="season_pass", id="s-1", version=1),
    ]  # fmt: skip
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_lines(lines, source="bad.jsonl")
    found = {(p.line, p.field): p.message for p in caught.value.problems}
    assert found[(3, "")].startswith("not valid JSON: EOF while parsing")
    assert "column" in found[(3, "")]
    assert found[(4, "type")].startswith("unknown type 'ghost' (expected one of: holder, product")
    assert found[(5, "")] == "give exactly one of performance, slot and day"
    assert found[(6, "colour")] == "unknown field"
    assert found[(7, "starts_at")] == "a time needs its UTC offset, e.g. 2025-05-01T09:00:00+02:00"
    assert found[(8, "version")] == "Input should be a valid integer, unable to parse string as an integer"
    assert found[(8, "benefits[0].access.limits[0].per")].startswith("Input should be 'day', 'week'")
    assert found[(8, "benefits[0].access.limits[0].count")] == "required field is missing"
    assert found[(9, "")] == "a voucher needs eligible events or performances"
    assert found[(10, "display_name")] == "required field is missing"
    assert found[(11, "kind")].startswith("unknown kind 'season_pass'")
    assert caught.value.total == len(caught.value.problems) == 11


def test_personal_data_is_refused_wherever_it_hides(ledger: Ledger) -> None:
    lines = [
        holder("h-1", 1, email="ann@example.org"),
        line(type="entitlement", kind="ticket", id="t-1", version=1, performance="p", access={"phone": "+33 1 23"}),
        line(type="unknown", id="x", version=1, extra={"postal_address": "1 rue de la Paix"}),
    ]
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_lines(lines, source="crm-dump.jsonl")
    found = {(p.line, p.field): p.message for p in caught.value.problems}
    assert found[(1, "email")] == "personal data is not allowed on a gate: 'email'"
    assert found[(2, "access.phone")] == "personal data is not allowed on a gate: 'phone'"
    assert found[(3, "extra.postal_address")] == "personal data is not allowed on a gate: 'postal_address'"
    assert ledger.holder("h-1") is None


def test_holder_names_are_reduced_on_import(ledger: Ledger) -> None:
    ledger.import_lines([holder("h-9", 1, "Marie-Claire van Dijk")], source="crm")
    assert ledger.holder("h-9").display_name == "Marie-Claire D."  # type: ignore[union-attr]
    assert "van Dijk" not in exported(ledger)


def test_the_same_version_twice_with_different_content_is_a_conflict(ledger: Ledger) -> None:
    # A warning, not a refusal: the line that sorts last is kept (test_import_order.py).
    lines = [holder("h-9", 1, "Ann Smith"), holder("h-9", 1, "Ann Smith"), holder("h-9", 1, "Bob Jones")]
    (warning,) = ledger.import_lines(lines, source="dup").warnings
    assert (warning.line, warning.field) == (1, "display_name")
    assert warning.message.startswith("holder 'h-9' version 1 differs from line 3, which is kept")
    assert ledger.holder("h-9").display_name == "Bob J."  # type: ignore[union-attr]


def test_a_membership_needs_an_expiry_or_a_product_with_a_validity(ledger: Ledger) -> None:
    def membership(id_: str, product: str | None) -> str:
        return line(type="entitlement", kind="membership", id=id_, version=1, valid_from="2025-01-01",
                    **({"product": product} if product else {}))  # fmt: skip

    ok = [membership("m-a", "membership-annual"), membership("m-b", "unknown-yet")]
    assert ledger.import_lines(ok, source="ok").applied == {"entitlement": 2}
    lines = [
        line(type="product", id="six-months", version=1, name="Six months"),
        membership("m-c", "entry-adult"),
        membership("m-d", None),
        membership("m-e", "six-months"),
    ]
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_lines(lines, source="bad")
    assert [(p.line, p.field) for p in caught.value.problems] == [(n, "expires_on") for n in (2, 3, 4)]
    assert caught.value.problems[0].message == "required: product 'entry-adult' has no validity to compute it from"


def test_headers_of_another_format_or_version_are_refused(ledger: Ledger) -> None:
    for header, field, message in [
        ('{"type":"header","format":"csv-export","version":1}', "format", "not a gate ledger file"),
        ('{"type":"header","format":"gate-ledger","version":2}', "version", "format version 2 is not supported"),
    ]:
        with pytest.raises(LedgerImportError) as caught:
            ledger.import_lines([header, holder("h-1", 1)], source="x")
        (problem,) = caught.value.problems
        assert (problem.line, problem.field) == (1, field)
        assert problem.message.startswith(message)
    with pytest.raises(LedgerImportError, match="a header is only allowed on the first line"):
        ledger.import_lines([holder("h-1", 1), '{"type":"header","format":"gate-ledger","version":1}'], source="x")


def test_binary_garbage_and_huge_lines_are_problems_not_crashes(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        holder("h-1", 1).encode() + b"\n"
        + b'{"type":"holder","id":"h-2","version":1,"display_name":"\xff\xfe"}\n'
        + b"\x00\x01\x02\x89PNG\n"
        + b"\x00\x01\x02\n"
        + b'{"type":"revocation","id":"r","version":1,"reason":"' + b"x" * 1_100_000 + b'"}\n'
        + holder("h-3", 1).encode() + b"\n"
    )  # fmt: skip
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_file(path)
    found = {p.line: p.message for p in caught.value.problems}
    assert found[2] == "not UTF-8 text (byte 0xff at column 57)"
    assert found[3] == "not UTF-8 text (byte 0x89 at column 4)"
    assert found[4].startswith("not valid JSON")
    assert found[5] == "line is longer than 1 MB"
    assert set(found) == {2, 3, 4, 5}
    assert ledger.holder("h-1") is None


def test_a_binary_file_reports_a_bounded_number_of_problems(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(bytes(range(256)) * 4000)
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_file(path)
    assert 0 < len(caught.value.problems) <= 200
    assert caught.value.total >= len(caught.value.problems)


def test_import_report_counts_per_type(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as ledger:
        report = ledger.import_file(EXAMPLE)
    assert report.applied["entitlement"] == 10
    assert report.applied["holder"] == 2
    assert report.deleted == {"holder": 1}
    assert report.lines == 27
    assert report.revision == 1
    assert "entitlement: 10 applied" in str(report)
