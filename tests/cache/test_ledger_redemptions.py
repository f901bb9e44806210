"""Redemptions: held counts as used, commit consumes what passed, release consumes nothing,
and every finished redemption or refusal is journaled in the same transaction."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger, LedgerError, redemptions
from gate.cache.redemptions import JournalEntry
from gate.reasons import Reason
from gate.records import Ticket

from .helpers import KIOSK, NOON, NORTH, admit, deny, use

LATER = NOON + dt.timedelta(seconds=4)


def journal_types(ledger: Ledger) -> list[str]:
    return [entry.type for entry in ledger.journal()]


def finished(ledger: Ledger) -> list[JournalEntry]:
    """The journal without its `redemption.held` rows: what finished."""
    return [entry for entry in ledger.journal() if entry.type != "redemption.held"]


def test_a_hold_counts_as_used_and_is_in_the_file_when_it_returns(ledger: Ledger, ledger_path: Path) -> None:
    rid = ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    (held,) = ledger.uses(["t-3001"])
    assert held.held and held.persons == 2 and held.lane == "north-1" and held.zone == "main-hall"
    # Another connection (another process) sees it at once: committed, not just buffered.
    other = sqlite3.connect(ledger_path)
    assert other.execute("SELECT type FROM journal WHERE redemption_id = ?", (rid,)).fetchall() == [
        ("redemption.held",)
    ]
    other.close()
    with Ledger.open(ledger_path) as another:
        assert [(u.persons, u.held) for u in another.uses(["t-3001"])] == [(2, True)]
        assert [h.id for h in another.open_holds()] == [rid]
    (entry,) = ledger.journal()
    assert entry.type == "redemption.held" and entry.body["uses"][0]["persons"] == 2
    assert [h.id for h in ledger.open_holds()] == [rid]
    assert ledger.open_holds()[0].at == NOON


def test_commit_of_all_persons(ledger: Ledger) -> None:
    rid = ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    ledger.commit(rid, at=LATER)
    (used,) = ledger.uses(["t-3001"])
    assert not used.held and used.persons == 2
    assert ledger.inside() == 2
    assert ledger.open_holds() == []
    held, entry = ledger.journal()
    assert (held.type, held.redemption_id, held.at) == ("redemption.held", rid, NOON)
    assert entry.type == "redemption.committed" and entry.redemption_id == rid and entry.at == LATER
    body = entry.body
    assert (body["verdict"], body["reason"], body["admitted"], body["passed"]) == ("admit", "ok", 2, 2)
    assert (body["entitlement_id"], body["kind"], body["lane"], body["zone"]) == ("t-3001", "ticket", "north-1",
                                                                                   "main-hall")  # fmt: skip
    assert body["direction"] == "entry"
    assert body["params"] == {"show": "Hamlet", "starts_at": NOON.isoformat(), "day": "2025-10-04"}
    assert [u["persons"] for u in body["uses"]] == [2]
    assert "Marie" not in str(body) and "holder" not in body


def test_a_commit_writes_the_same_body_whether_its_hold_is_ours_or_read_back(ledger: Ledger, ledger_path: Path) -> None:
    """A commit reuses the text its hold encoded; one whose hold another process made (or a
    restart read back) encodes it from the stored row: the journal must not tell them apart."""
    for n in (1, 2):
        rid = ledger.hold(admit(f"t-300{n}", use(f"t-300{n}", persons=2)), lane=KIOSK, reference=f"T300{n}", at=NOON)
        if n == 1:
            ledger.commit(rid, at=LATER)
        else:
            with Ledger.open(ledger_path) as another:
                another.commit(rid, at=LATER)
    held_1, committed_1, held_2, committed_2 = (instants(e.body) for e in ledger.journal())
    assert held_1.keys() == held_2.keys() and held_1["kiosk"] is True
    for held, committed in ((held_1, committed_1), (held_2, committed_2)):
        assert committed == {**held, "at": LATER, "passed": 2}
    assert {**committed_1, "redemption": "", "entitlement_id": "", "reference": "", "uses": []} == {
        **committed_2, "redemption": "", "entitlement_id": "", "reference": "", "uses": []
    }


def instants(body: dict[str, Any]) -> dict[str, Any]:
    """A journal body with its ISO texts of instants read back (one instant has many texts)."""
    uses = [{**u, "at": dt.datetime.fromisoformat(u["at"])} for u in body["uses"]]
    times = {key: dt.datetime.fromisoformat(body[key]) for key in ("at", "held_at")}
    return {**body, **times, "uses": uses}


def test_partial_commit_trims_credits_from_the_end_of_the_plan(ledger: Ledger) -> None:
    plan = (use("cm-a", persons=1, credits=1), use("cm-b", persons=2, credits=2), use("cm-c", persons=1, credits=1))
    rid = ledger.hold(admit("cm-a", *plan, kind="credit_membership"), lane=NORTH, reference="CM", at=NOON)
    ledger.commit(rid, passed=2, at=LATER)
    left = {u.entitlement_id: (u.persons, u.credits) for u in ledger.uses(["cm-a", "cm-b", "cm-c"])}
    assert left == {"cm-a": (1, 1), "cm-b": (1, 1)}  # cm-c's row went, cm-b gave one credit back
    assert ledger.inside() == 2
    assert finished(ledger)[0].body["passed"] == 2


def test_passed_must_be_within_what_was_admitted(ledger: Ledger) -> None:
    rid = ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    with pytest.raises(LedgerError, match=r"passed must be 0\.\.2, not 3"):
        ledger.commit(rid, passed=3, at=LATER)
    assert ledger.uses(["t-3001"])[0].held
    assert journal_types(ledger) == ["redemption.held"]


def test_release_leaves_no_usage(ledger: Ledger) -> None:
    rid = ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    ledger.release(rid, at=LATER, why="no passage before the timeout")
    assert ledger.uses(["t-3001"]) == ()
    assert ledger.inside() == 0
    (entry,) = finished(ledger)
    assert entry.type == "redemption.released"
    assert entry.body["passed"] == 0 and entry.body["why"] == "no passage before the timeout"
    assert ledger.stats()["redemptions"] == {"held": 0, "committed": 0, "released": 1}


def test_commit_with_nobody_through_is_a_release(ledger: Ledger) -> None:
    rid = ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    ledger.commit(rid, passed=0, at=LATER)
    assert ledger.uses(["t-3001"]) == ()
    assert journal_types(ledger) == ["redemption.held", "redemption.released"]


def test_finishing_an_unknown_or_finished_redemption_changes_nothing(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="no redemption 'nope'"):
        ledger.commit("nope", at=LATER)
    rid = ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    ledger.commit(rid, passed=1, at=LATER)
    before = (ledger.uses(["t-3001"]), ledger.inside(), journal_types(ledger))
    with pytest.raises(LedgerError, match=f"redemption '{rid}' is already committed"):
        ledger.commit(rid, at=LATER)
    with pytest.raises(LedgerError, match="is already committed"):
        ledger.release(rid, at=LATER, why="late")
    assert (ledger.uses(["t-3001"]), ledger.inside(), journal_types(ledger)) == before


def test_redeem_holds_and_commits_in_one_step(ledger: Ledger) -> None:
    rid = ledger.redeem(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON, passed=1)
    (used,) = ledger.uses(["t-3001"])
    assert not used.held and used.persons == 1
    assert [(e.type, e.redemption_id) for e in ledger.journal()] == [("redemption.committed", rid)]


def test_a_refusal_is_journaled_without_a_redemption(ledger: Ledger) -> None:
    ledger.refuse(deny("t-2999", Reason.CANCELLED), lane=NORTH, reference="T2999", at=NOON)
    ledger.refuse(deny(None, Reason.UNKNOWN_CODE), lane=NORTH, reference="NOPE", at=NOON)
    first, second = ledger.journal()
    assert (first.type, first.reason, first.entitlement_id, first.redemption_id) == ("refusal", "cancelled",
                                                                                    "t-2999", None)  # fmt: skip
    assert first.body["verdict"] == "deny" and first.body["params"] == {"used_at": NOON.isoformat()}
    assert second.body["reference"] == "NOPE" and second.entitlement_id is None
    assert ledger.stats()["redemptions"] == {"held": 0, "committed": 0, "released": 0}


def test_journal_rows_are_written_in_the_same_transaction(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = ledger.hold(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)

    def broken_journal(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full while journaling")

    monkeypatch.setattr(redemptions, "_journal", broken_journal)
    with pytest.raises(RuntimeError):
        ledger.commit(rid, at=LATER)
    # The commit rolled back with its journal row: still held, nothing consumed, no event.
    assert ledger.uses(["t-3001"])[0].held
    assert ledger.inside() == 0
    assert [h.id for h in ledger.open_holds()] == [rid]
    assert journal_types(ledger) == ["redemption.held"]


def test_a_redeemed_voucher_becomes_an_admission_its_code_finds(ledger: Ledger, tmp_path: Path) -> None:
    admission = Ticket(id="adm-v-9001", version=1, performance="hamlet-2025-10-04", references=("ADM-9001",),
                       seat_category="stalls", tariff="adult")  # fmt: skip
    decision = admit("v-9001", use("v-9001", lane=KIOSK), kind="voucher", admission=admission)
    revision = ledger.revision
    rid = ledger.hold(decision, lane=KIOSK, reference="GIFT-9001-XK", at=NOON)
    assert ledger.resolve("GIFT-9001-XK") == ("v-9001",)  # not before the commit
    ledger.commit(rid, at=LATER)
    assert ledger.resolve("gift-9001-xk") == ("adm-v-9001",)
    assert ledger.resolve("ADM-9001") == ("adm-v-9001",)
    (created,) = ledger.entitlements(["adm-v-9001"])
    assert isinstance(created, Ticket) and created.from_voucher == "v-9001"
    assert ledger.revision == revision + 1
    assert ledger.inside() == 0  # a kiosk redeems; nobody entered
    assert finished(ledger)[0].body["admission"] == "adm-v-9001"
    # The admission is part of the ledger's export, and survives a round trip.
    out = io.StringIO()
    ledger.export(out)
    with Ledger.open(tmp_path / "copy.sqlite") as copy:
        copy.import_lines(out.getvalue().splitlines(), source="export")
        assert copy.resolve("GIFT-9001-XK") == ("adm-v-9001",)


def test_the_occupancy_counter_counts_entries_and_exits_never_below_zero(ledger: Ledger) -> None:
    ledger.redeem(admit("t-3001", use("t-3001", persons=2)), lane=NORTH, reference="T3001", at=NOON)
    assert ledger.inside() == 2
    exit_plan = use("t-3001", persons=1, direction="exit")
    ledger.redeem(admit("t-3001", exit_plan), lane=NORTH, reference="T3001", at=LATER)
    assert ledger.inside() == 1
    ledger.redeem(admit("t-3001", use("t-3001", persons=3, direction="exit")), lane=NORTH, reference="T", at=LATER)
    assert ledger.inside() == 0


def test_staff_actions_are_journaled(ledger: Ledger) -> None:
    ledger.record_event("staff.free_passage", at=NOON, lane="north-1", reason="override", body={"by": "staff-7"})
    (entry,) = ledger.journal(unpublished=True)
    assert (entry.type, entry.lane, entry.body["by"]) == ("staff.free_passage", "north-1", "staff-7")
    ledger.outbox().mark_published([entry.seq], at=LATER)
    assert ledger.journal(unpublished=True) == []
    assert ledger.journal()[0].published_at == LATER


def test_naive_times_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="aware"):
        ledger.hold(admit("t-3001", use("t-3001")), lane=NORTH, reference="T3001", at=NOON.replace(tzinfo=None))
    assert ledger.open_holds() == []


def test_a_setting_is_kept_in_the_transaction_of_its_journal_event(ledger: Ledger) -> None:
    assert ledger.setting("lane.north-1.mode") is None
    ledger.record_event("staff.mode", at=NOON, lane="north-1", body={"mode": "locked"},
                        settings={"lane.north-1.mode": '{"mode": "locked"}'})  # fmt: skip
    assert ledger.setting("lane.north-1.mode") == '{"mode": "locked"}'
    assert ledger.journal()[-1].type == "staff.mode"
    # Settings have a namespace of their own: they cannot overwrite the ledger's own keys.
    ledger.record_event("staff.x", at=NOON, settings={"revision": "999"})
    assert ledger.revision != 999
