"""Hot-path reads, the schedule cache across processes, and reporting."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
from pathlib import Path

from gate.cache import Ledger
from gate.records import CreditMembership, Membership

from .helpers import NOON, NORTH, admit, use


def test_entitlements_are_parsed_back_as_they_were_imported(ledger: Ledger) -> None:
    membership, missing_skipped = ledger.entitlements(["m-2024-0042", "nope", "m-2025-0042"])
    assert isinstance(membership, Membership)
    assert [b.kind for b in membership.benefits] == ["entry", "discount"]
    assert membership.benefits[0].access.limits[0].per == "day"  # type: ignore[union-attr]
    assert missing_skipped.id == "m-2025-0042"
    assert ledger.holder("h-1001").display_name == "Marie-Claire D."  # type: ignore[union-attr]
    assert ledger.holder("nobody") is None


def test_credit_memberships_of_a_holder_oldest_purchase_first(ledger: Ledger) -> None:
    def credit(id_: str, purchased: str) -> str:
        record = {"type": "entitlement", "kind": "credit_membership", "id": id_, "version": 1, "holder": "h-1002",
                  "credits": 5, "eligible_products": ["entry-adult"], "purchased_at": purchased,
                  "purchase_tz": "Europe/Paris", "expires_on": "2027-01-01"}  # fmt: skip
        return json.dumps(record)

    ledger.import_lines([credit("cm-new", "2025-09-01T10:00:00+02:00"), credit("cm-old", "2024-01-01T10:00:00Z")],
                        source="more")  # fmt: skip
    found = ledger.credit_memberships_of("h-1002")
    assert [c.id for c in found] == ["cm-old", "cm-77", "cm-new"]
    assert all(isinstance(c, CreditMembership) for c in found)
    assert ledger.credit_memberships_of("h-1001") == []


def test_the_schedule_is_cached_until_the_ledger_changes(ledger: Ledger) -> None:
    schedule = ledger.schedule()
    assert [p.id for p in schedule.performances_by_event["hamlet"]] == ["hamlet-2025-10-03", "hamlet-2025-10-04"]
    assert set(schedule.products) == {"membership-annual", "entry-adult", "workshop"}
    assert len(schedule.calendars) == 2
    assert ledger.schedule() is schedule
    ledger.redeem(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    assert ledger.schedule() is schedule  # usage is not schedule
    ledger.import_lines([json.dumps({"type": "event", "id": "lear", "version": 1, "name": "King Lear"})], source="x")
    assert "lear" in ledger.schedule().events


def test_another_process_import_is_seen(ledger: Ledger, ledger_path: Path, tmp_path: Path) -> None:
    before = ledger.schedule()
    assert ledger.resolve("TOUR-1") == ()
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        json.dumps({"type": "performance", "id": "tour-2", "version": 1, "event": "tour",
                    "starts_at": "2025-10-04T14:00:00+02:00"}) + "\n"
        + json.dumps({"type": "entitlement", "kind": "ticket", "id": "t-tour", "version": 1,
                      "references": ["TOUR-1"], "performance": "tour-2"}) + "\n"
    )  # fmt: skip
    script = (
        "import sys; from pathlib import Path; from gate.cache import Ledger\n"
        "with Ledger.open(Path(sys.argv[1]), create=False) as l: print(l.import_file(Path(sys.argv[2])).revision)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(ledger_path), str(batch)],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert int(done.stdout) == ledger.revision
    after = ledger.schedule()
    assert after is not before
    assert [p.id for p in after.performances_by_event["tour"]] == ["tour-2025-10-04-11", "tour-2"]
    assert ledger.resolve("tour-1") == ("t-tour",)


def test_activity_lists_the_uses_of_a_membership_and_of_those_it_renews(ledger: Ledger) -> None:
    day = dt.timedelta(days=1)
    ledger.redeem(admit("m-2024-0042", use("m-2024-0042", at=NOON - 400 * day)), lane=NORTH, reference="MEM",
                  at=NOON - 400 * day)  # fmt: skip
    ledger.redeem(admit("m-2025-0042", use("m-2025-0042", at=NOON - day)), lane=NORTH, reference="MEM", at=NOON - day)
    ledger.hold(admit("m-2025-0042", use("m-2025-0042")), lane=NORTH, reference="MEM", at=NOON)  # held: not activity
    rid = ledger.hold(admit("m-2025-0042", use("m-2025-0042")), lane=NORTH, reference="MEM", at=NOON)
    ledger.release(rid, at=NOON, why="no passage")
    activity = ledger.activity("m-2025-0042")
    assert [(u.entitlement_id, u.at) for u in activity] == [
        ("m-2025-0042", (NOON - day).timestamp()),
        ("m-2024-0042", (NOON - 400 * day).timestamp()),
    ]
    assert all(u.lane == "north-1" and u.zone == "main-hall" and u.direction == "entry" for u in activity)
    assert len(ledger.activity("m-2024-0042")) == 1


def test_stats_count_what_an_operator_checks(ledger: Ledger) -> None:
    ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    stats = ledger.stats()
    assert stats["records"]["entitlement"] == 10 and stats["records"]["holder"] == 2
    assert stats["entitlements"]["ticket"] == 4
    assert stats["references"] == 11
    assert stats["usage"] == stats["usage_held"] == 1
    assert stats["redemptions"]["held"] == 1
    assert stats["journal"] == stats["journal_unpublished"] == 1  # the hold's row
    assert stats["revision"] == 1 and stats["file_bytes"] > 0


def test_keys_and_revocations(ledger: Ledger) -> None:
    assert [k.id for k in ledger.keys("credential")] == ["cred-2025"]
    assert ledger.keys("staff") == []
    assert ledger.is_revoked("cred-7f3a9c")
    assert not ledger.is_revoked("cred-2025")


def test_bulk_loaded_uses_are_seen_by_uses(ledger: Ledger) -> None:
    rows = [use(f"t-{i % 50}", at=NOON + dt.timedelta(minutes=i))._replace(held=False) for i in range(150_000)]
    assert ledger.bulk_insert_uses(rows) == 150_000
    found = ledger.uses(["t-7"])
    assert len(found) == 3000 and not any(u.held for u in found)
    assert [u.at for u in found] == sorted(u.at for u in found)
    plan = ledger._conn.execute("EXPLAIN QUERY PLAN SELECT * FROM usage WHERE entitlement_id = ?", ("t-7",)).fetchall()
    assert "SEARCH usage USING PRIMARY KEY (entitlement_id=?)" in str(plan)  # one seek, contiguous rows


def test_a_backup_is_a_ledger_of_its_own(ledger: Ledger, tmp_path: Path) -> None:
    ledger.redeem(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON)
    target = tmp_path / "copy.sqlite"
    ledger.backup(target)
    with Ledger.open(target, create=False) as copy:
        assert copy.resolve("T3001") == ("t-3001",)
        assert len(copy.uses(["t-3001"])) == 1
        assert copy.stats()["journal"] == 1


def test_lineage_goes_back_through_renewals(ledger: Ledger) -> None:
    assert ledger.lineage("m-2025-0042") == ("m-2025-0042", "m-2024-0042")
    assert ledger.lineage("m-2024-0042") == ("m-2024-0042",)


def test_find_is_what_resolve_then_entitlements_finds_for_every_code(ledger: Ledger) -> None:
    codes = [code for (code,) in ledger._conn.execute("SELECT code FROM reference")]
    assert len(codes) > 5
    for code in [*codes, *(c.lower() for c in codes), "NOPE", "", "  "]:
        assert ledger.find(code) == ledger.entitlements(ledger.resolve(code)), code
    # A renewed membership's old code finds the renewal, through the successor.
    assert [e.id for e in ledger.find("MEM-0042-2024")] == ["m-2025-0042"]


def test_holding_finds_the_holder_of_the_first_entitlement_in_the_same_statement(ledger: Ledger) -> None:
    codes = [code for (code,) in ledger._conn.execute("SELECT code FROM reference")]
    named = 0
    for code in [*codes, "NOPE", ""]:
        found, holder = ledger.holding(code)
        assert found == ledger.find(code), code
        expected = ledger.holder(found[0].holder) if found and found[0].holder else None
        assert holder == expected, code
        named += holder is not None
    assert named > 3
    # Through a successor too: the renewal's holder, reduced to first name and initial.
    found, holder = ledger.holding("MEM-0042-2024")
    assert [e.id for e in found] == ["m-2025-0042"] and holder is not None and holder.display_name.endswith(".")


def test_uses_since_keep_every_held_use_and_the_committed_ones_from_then_on(ledger: Ledger) -> None:
    """A frequent member's decision reads only the history its rules can count (gate/rules/history.py)."""
    old, recent = NOON - dt.timedelta(days=40), NOON - dt.timedelta(hours=1)
    ledger.bulk_insert_uses([use("t-3001", at=old)._replace(held=False), use("t-3001", at=recent)._replace(held=False)])
    ledger.checkpoint(force=True)  # those two are in `usage`; what follows stays in the tail
    ledger.redeem(admit("t-3001", use("t-3001", at=old)), lane=NORTH, reference="T3001", at=old)
    ledger.redeem(admit("t-3001", use("t-3001", at=recent)), lane=NORTH, reference="T3001", at=recent)
    assert ledger.uses(["t-3001"], since=math.inf) == ()  # four committed, none held
    ledger.hold(admit("t-3001", use("t-3001", at=old)), lane=NORTH, reference="T3001", at=old)  # a stuck hold
    since = (NOON - dt.timedelta(days=1)).timestamp()
    assert [(u.at, u.held) for u in ledger.uses(["t-3001"], since=since)] == [
        (old.timestamp(), True), (recent.timestamp(), False), (recent.timestamp(), False)
    ]  # fmt: skip
    assert len(ledger.uses(["t-3001"])) == 5
    # Infinity: rules that count nothing still see the passage in progress.
    assert [(u.at, u.held) for u in ledger.uses(["t-3001"], since=math.inf)] == [(old.timestamp(), True)]
