"""Bounds where a record enters: every version, instant, day, duration and count in a range the
rules can decide on, nesting and contact details refused, each by line and field."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger, LedgerImportError
from gate.config import parse_config
from gate.engine import Engine
from gate.reasons import Verdict
from tests.configs import ConfigFile, config_text

from .helpers import EXAMPLE

MAX_VERSION = 2**53 - 1


def line(**fields: Any) -> str:
    return json.dumps(fields)


def ticket(**fields: Any) -> str:
    """A ticket for a day, unless `fields` give it a slot."""
    base: dict[str, Any] = {"type": "entitlement", "kind": "ticket", "id": "t-1", "version": 1}
    if "slot" not in fields:
        base["day"] = "2025-10-04"
    return line(**{**base, **fields})


def problems(ledger: Ledger, *lines: str) -> dict[tuple[int, str], str]:
    """The problems an import of these lines reports, by (line, field); the ledger must not change."""
    before = ledger.revision
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_lines(lines, source="bad.jsonl")
    assert ledger.revision == before
    return {(p.line, p.field): p.message for p in caught.value.problems}


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        yield opened


# --- versions ---------------------------------------------------------------------------------


def test_versions_past_2_53_are_refused_by_line_and_field_the_largest_imports(ledger: Ledger) -> None:
    found = problems(
        ledger,
        line(type="holder", id="h-1", version=10**20, display_name="Ann Smith"),
        line(type="holder", id="h-2", version=MAX_VERSION + 1, display_name="Ann Smith"),
        line(type="holder", id="h-3", version=10**20, deleted=True),
        '{"type":"header","format":"gate-ledger","version":100000000000000000000}',
    )
    message = "Input should be less than or equal to 9007199254740991"
    assert found == {(1, "version"): message, (2, "version"): message, (3, "version"): message,
                     (4, "type"): "a header is only allowed on the first line"}  # fmt: skip
    ledger.import_lines([line(type="holder", id="h-1", version=MAX_VERSION, display_name="Ann Smith")], source="f")
    assert ledger.holder("h-1").version == MAX_VERSION  # type: ignore[union-attr]


# --- instants and days ------------------------------------------------------------------------

OUTSIDE = [
    (line(type="performance", id="p", version=1, event="e", starts_at="1999-12-31T23:59:59Z"), "starts_at"),
    (line(type="performance", id="p", version=1, event="e", starts_at="2100-01-01T00:00:00Z"), "starts_at"),
    # The same instant as 1999-12-31T23:30:00Z, whatever the offset says.
    (line(type="performance", id="p", version=1, event="e", starts_at="2000-01-01T00:30:00+01:00"), "starts_at"),
    (line(type="key", id="k", version=1, purpose="credential", public_key="x", valid_until="9999-12-31T23:59:59Z"),
     "valid_until"),
    (line(type="staff", id="s", version=1, role="steward", name="Ann", valid_until="2100-06-01T00:00:00Z"),
     "valid_until"),
    (line(type="season", id="s", version=1, name="S", starts_on="0001-01-01", ends_on="2025-06-30"), "starts_on"),
    (line(type="calendar", id="c", version=1, hours=[], closed_dates=["2100-01-01"]), "closed_dates[0]"),
    (ticket(day="9999-12-31"), "day"),
    (ticket(purchased_at="1970-01-01T00:00:00Z"), "purchased_at"),
    (ticket(slot={"starts_at": "2025-10-04T10:00:00Z", "ends_at": "2100-01-01T00:00:00Z"}), "slot.ends_at"),
    (ticket(access={"blackout_dates": ["1999-12-31"]}), "access.blackout_dates[0]"),
    (line(type="entitlement", kind="membership", id="m", version=1, valid_from="2025-01-01", expires_on="9999-12-31"),
     "expires_on"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field"), OUTSIDE)
def test_instants_and_days_outside_2000_to_2100_are_refused(ledger: Ledger, text: str, field: str) -> None:
    found = problems(ledger, text)
    assert list(found) == [(1, field)]
    assert any(edge in found[(1, field)] for edge in ("2000-01-01", "2100-01-01T00:00:00Z", "2099-12-31"))


def test_the_edges_of_the_range_are_accepted_a_step_past_them_refused(ledger: Ledger) -> None:
    found = problems(ledger, ticket(day="1999-12-31"), ticket(day="2100-01-01"))
    assert list(found) == [(1, "day"), (2, "day")]
    report = ledger.import_lines(
        [
            line(type="performance", id="p1", version=1, event="e", starts_at="2000-01-01T00:00:00Z"),
            # 2099-12-31T23:59:59Z, written in an offset where the local year is already 2100.
            line(type="performance", id="p2", version=1, event="e", starts_at="2100-01-01T00:59:59+01:00"),
            ticket(id="t-1", day="2000-01-01"),
            ticket(id="t-2", day="2099-12-31"),
        ],
        source="edges",
    )
    assert report.applied == {"performance": 2, "entitlement": 2}


# --- durations and counts ---------------------------------------------------------------------

TOO_LARGE = [
    (line(type="product", id="p", version=1, name="Forever", validity={"years": 100_000}), "validity.years"),
    (line(type="product", id="p", version=1, name="Long", validity={"days": 36_526}), "validity.days"),
    (line(type="product", id="p", version=1, name="Long", validity={"years": 60, "months": 600}), "validity"),
    (line(type="product", id="p", version=1, name="Dear", price_cents=10**10 + 1), "price_cents"),
    (line(type="performance", id="p", version=1, event="e", starts_at="2025-10-04T20:00:00Z",
          opens_minutes_before=52_596_001), "opens_minutes_before"),
    (line(type="performance", id="p", version=1, event="e", starts_at="2025-10-04T20:00:00Z",
          closes_minutes_after=10**30), "closes_minutes_after"),
    (ticket(opens_minutes_before=52_596_001), "opens_minutes_before"),
    (ticket(access={"anti_passback_minutes": 10**12}), "access.anti_passback_minutes"),
    (ticket(access={"limits": [{"per": "day", "count": 100_001}]}), "access.limits[0].count"),
    (line(type="entitlement", kind="credit_membership", id="c", version=1, credits=10**9, eligible_products=["p"],
          purchased_at="2025-01-01T00:00:00Z", purchase_tz="Europe/Paris", expires_on="2025-12-31"), "credits"),
    (line(type="entitlement", kind="subscription", id="s", version=1, events=["e"], quantity=1000), "quantity"),
    (line(type="entitlement", kind="reservation", id="r", version=1, performance="p",
          booked_at="2025-10-01T00:00:00Z", confirm={"days_before_event": 36_526}), "confirm.days_before_event"),
    (line(type="entitlement", kind="voucher", id="v", version=1, events=["e"], purchased_at="2025-01-01T00:00:00Z",
          expires_after_days=10**6), "expires_after_days"),
    (line(type="entitlement", kind="voucher", id="v", version=1, events=["e"],
          window={"opens_days_before": 36_526}), "window.opens_days_before"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field"), TOO_LARGE)
def test_durations_and_counts_past_their_bound_are_refused_by_line_and_field(
    ledger: Ledger, text: str, field: str
) -> None:
    found = problems(ledger, line(type="holder", id="h-1", version=1, display_name="Ann Smith"), text)
    assert list(found) == [(2, field)]


def test_a_validity_of_a_hundred_years_is_accepted_and_decided_on(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        found = problems(ledger, line(type="product", id="life", version=1, name="Life", validity={"years": 100_000}))
        assert found[(1, "validity.years")] == "Input should be less than or equal to 100"
        ledger.import_lines([
            line(type="product", id="life", version=1, name="Life", validity={"years": 100}),
            line(type="entitlement", kind="membership", id="m", version=1, product="life", valid_from="2025-01-01",
                 references=["LIFE-1"]),
        ], source="ok")  # fmt: skip
        engine = Engine(ledger, parse_config(config_text(ledger={"path": path})))
        at = dt.datetime(2099, 12, 31, 12, 0, tzinfo=dt.UTC)
        assert engine.decide("LIFE-1", lane="l1", at=at).decision.verdict is Verdict.ADMIT


# --- nesting ----------------------------------------------------------------------------------


def test_a_line_nested_too_deep_is_refused_on_its_line_not_a_crash(ledger: Ledger, tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    found = problems(
        ledger,
        line(type="holder", id="h-1", version=1, display_name="Ann Smith"),
        '{"type":"holder","id":"h-2","version":1,"display_name":"A","x":' + deep + "}",
        '{"type":"holder","id":"h-3","version":2,"deleted":true,"y":' + deep + "}",
        deep,
        '{"type":"holder","id":"h-4","version":1,"display_name":"A","z":' + '{"a":' * 33 + "1" + "}" * 34,
    )
    message = "nested deeper than 32 levels of arrays and objects"
    assert found == {(2, "x"): message, (3, "y"): message, (4, ""): message, (5, "z"): message}
    # The same from a file.
    path = tmp_path / "deep.jsonl"
    path.write_text(line(type="holder", id="h-1", version=1, display_name="Ann Smith") + "\n" + deep + "\n")
    with pytest.raises(LedgerImportError) as caught:
        ledger.import_file(path)
    assert [(p.line, p.field, p.message) for p in caught.value.problems] == [(2, "", message)]


# --- contact details --------------------------------------------------------------------------


def test_a_display_name_that_is_contact_details_is_refused_by_line_and_field(ledger: Ledger) -> None:
    names = ["ann@example.org", "Ann ann.smith@example.org", "+33612345678", "Ann 06 12 34 56 78"]
    found = problems(ledger, *(line(type="holder", id=f"h-{n}", version=1, display_name=name)
                               for n, name in enumerate(names, start=1)))  # fmt: skip
    email = "looks like an e-mail address: give a first name and initial"
    phone = "looks like a phone number: give a first name and initial"
    assert found == {(1, "display_name"): email, (2, "display_name"): email,
                     (3, "display_name"): phone, (4, "display_name"): phone}  # fmt: skip
    assert not any(name in message for name in names for message in found.values())
    # Ordinary names are still reduced and stored.
    ledger.import_lines([line(type="holder", id="h-1", version=1, display_name="Marie-Claire van Dijk")], source="f")
    assert ledger.holder("h-1").display_name == "Marie-Claire D."  # type: ignore[union-attr]
    assert ledger.import_file(EXAMPLE).applied  # the documented example passes every bound


def test_a_holder_s_preferred_language_is_a_language_tag_or_nothing(ledger: Ledger) -> None:
    bad = ["french", "fr_FR", "fr-", "<script>", "ab-123456789"]
    found = problems(ledger, *(line(type="holder", id=f"h-{n}", version=1, display_name="Ann S.", language=tag)
                               for n, tag in enumerate(bad, start=1)))  # fmt: skip
    assert sorted(found) == [(n, "language") for n in range(1, len(bad) + 1)]
    assert all("should match pattern" in message for message in found.values())
    good = {"h-a": "fr", "h-b": "pt-BR", "h-c": "de-AT", "h-d": None}
    ledger.import_lines([line(type="holder", id=i, version=1, display_name="Ann S.", **({"language": t} if t else {}))
                         for i, t in good.items()], source="f")  # fmt: skip
    assert {i: ledger.holder(i).language for i in good} == good  # type: ignore[union-attr]


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ('{"type":"holder","id":"h-2","version":100000000000000000000,"display_name":"Bob"}',
         "  line 2: version: Input should be less than or equal to 9007199254740991"),
        ('{"type":"holder","id":"h-2","version":1,"display_name":"B","x":' + "[" * 50_000 + "]" * 50_000 + "}",
         "  line 2: x: nested deeper than 32 levels of arrays and objects"),
    ],
)  # fmt: skip
def test_gate_ledger_import_names_the_line_and_field_and_exits_2(
    tmp_path: Path, config_file: ConfigFile, bad: str, expected: str
) -> None:
    config = config_file()
    path = tmp_path / "batch.jsonl"
    path.write_text(line(type="holder", id="h-1", version=1, display_name="Ann Smith") + "\n" + bad + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "gate", "--config", str(config), "ledger", "import", str(path)],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, "GATE_CONFIG": ""},
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"gate: {path}: 1 problem(s), nothing imported", expected]


def test_a_time_zone_that_is_a_folder_of_the_zone_database_is_refused_by_line_and_field(ledger: Ledger) -> None:
    membership = line(type="entitlement", kind="credit_membership", id="c-1", version=1, credits=5,
                      eligible_products=["entry"], purchased_at="2025-01-01T00:00:00Z", purchase_tz="Europe",
                      expires_on="2025-12-31")  # fmt: skip
    assert problems(ledger, membership) == {(1, "purchase_tz"): "unknown IANA time zone 'Europe'"}
