"""The decision path end to end on a real ledger: holds, commits, releases and serialisation."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gate.cache import Ledger
from gate.config import parse_config
from gate.decision import Ask
from gate.engine import Engine, Outcome, UnknownLane
from gate.reasons import Reason, Verdict
from tests.configs import config_text

PARIS = ZoneInfo("Europe/Paris")
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)
# Two lanes, as two readers or two lanes' daemons on one ledger.
LANES = {"lanes": {"l1": None, "a": {"zone": "main", "product": "entry"}, "b": {"zone": "main", "product": "entry"}}}
RECORDS = [
    {"type": "holder", "id": "h1", "version": 1, "display_name": "Jonas Weber"},
    {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500},
    {"type": "entitlement", "kind": "ticket", "id": "single", "version": 1, "day": "2026-06-01",
     "references": ["SINGLE"]},
    {"type": "entitlement", "kind": "ticket", "id": "trio", "version": 1, "day": "2026-06-01", "pax": 3,
     "references": ["TRIO"]},
    {"type": "entitlement", "kind": "ticket", "id": "kid", "version": 1, "day": "2026-06-01", "flags": ["child"],
     "references": ["KID"]},
    # Bought later but expiring sooner: FIFO by purchase must still take the older one first.
    {"type": "entitlement", "kind": "credit_membership", "id": "old", "version": 1, "holder": "h1", "credits": 1,
     "eligible_products": ["entry"], "purchased_at": "2026-01-01T10:00+01:00", "purchase_tz": "Europe/Paris",
     "expires_on": "2026-12-31", "references": ["CARD-OLD"]},
    {"type": "entitlement", "kind": "credit_membership", "id": "new", "version": 1, "holder": "h1", "credits": 5,
     "eligible_products": ["entry"], "purchased_at": "2026-03-01T10:00+01:00", "purchase_tz": "Europe/Paris",
     "expires_on": "2026-09-30", "references": ["CARD-NEW"]},
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.import_lines([json.dumps(r) for r in RECORDS], source="test")
        yield Engine(ledger, parse_config(config_text(LANES, ledger={"path": path})))


def test_two_readers_racing_on_a_single_use_code_admit_it_once(engine: Engine) -> None:
    results = []
    start = threading.Barrier(8)

    def scan(lane: str) -> None:
        start.wait()
        results.append(engine.admit("SINGLE", lane=lane, at=NOON))

    threads = [threading.Thread(target=scan, args=("ab"[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    admitted = [r for r in results if r.redemption is not None]
    assert len(admitted) == 1
    assert {r.decision.reason for r in results if r.redemption is None} == {Reason.IN_PROGRESS}


def test_two_lanes_daemons_on_one_ledger_admit_a_single_use_code_once(engine: Engine) -> None:
    """Each lane's daemon has its own connection: the write lock, taken before deciding, keeps
    one from deciding on what it read before the other's hold was written."""
    config = engine.config
    with Ledger.open(engine.ledger.path) as other_ledger:
        engines = [engine, Engine(other_ledger, config)]
        for round_ in range(5):
            code = "SINGLE" if round_ == 0 else f"RACE-{round_}"
            if round_:
                record = {"type": "entitlement", "kind": "ticket", "id": f"race-{round_}", "version": 1,
                          "day": "2026-06-01", "references": [code]}  # fmt: skip
                engine.ledger.import_lines([json.dumps(record)], source="race")
            results: list[Outcome] = []
            start = threading.Barrier(4)

            def scan(index: int, code: str = code, start: threading.Barrier = start,
                     results: list[Outcome] = results) -> None:  # fmt: skip
                start.wait()
                results.append(engines[index % 2].admit(code, lane="ab"[index % 2], at=NOON))

            threads = [threading.Thread(target=scan, args=(i,)) for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len([r for r in results if r.redemption is not None]) == 1, round_
            assert {r.decision.reason for r in results if r.redemption is None} == {Reason.IN_PROGRESS}


def test_a_hold_counts_as_used_until_committed_or_released(engine: Engine) -> None:
    held = engine.admit("SINGLE", lane="a", at=NOON)
    assert held.redemption is not None
    assert engine.decide("SINGLE", lane="b", at=NOON).decision.reason is Reason.IN_PROGRESS
    engine.release(held.redemption, at=NOON, why="no passage")
    again = engine.admit("SINGLE", lane="b", at=NOON)
    assert again.decision.verdict is Verdict.ADMIT
    assert again.redemption is not None
    engine.commit(again.redemption, at=NOON)
    assert engine.decide("SINGLE", lane="a", at=NOON).decision.reason is Reason.ALREADY_USED


def test_only_the_persons_who_passed_are_consumed(engine: Engine) -> None:
    outcome = engine.admit("TRIO", lane="a", at=NOON)
    assert (outcome.decision.admitted, outcome.redemption is not None) == (3, True)
    assert outcome.redemption is not None
    engine.commit(outcome.redemption, at=NOON, passed=2)
    rest = engine.decide("TRIO", lane="a", at=NOON).decision
    assert (rest.verdict, rest.admitted) == (Verdict.ADMIT, 1)


def test_credits_go_first_in_first_out_by_purchase_and_a_partial_commit_keeps_fifo(engine: Engine) -> None:
    outcome = engine.admit("CARD-NEW", lane="a", at=NOON, ask=Ask(party=2))
    assert outcome.decision.admitted == 2
    assert [u.entitlement_id for u in outcome.decision.plan] == ["old", "new"]
    assert outcome.redemption is not None
    engine.commit(outcome.redemption, at=NOON, passed=1)
    uses = engine.ledger.uses(["old", "new"])
    assert [(u.entitlement_id, u.credits) for u in uses] == [("old", 1)]
    assert engine.decide("CARD-OLD", lane="a", at=NOON).decision.balance == 4


def test_refusals_are_journaled_without_a_redemption(engine: Engine) -> None:
    outcome = engine.admit("NOBODY", lane="a", at=NOON)
    assert outcome.redemption is None
    entry = engine.ledger.journal()[-1]
    assert (entry.type, entry.reason, entry.lane) == ("refusal", "unknown_code", "a")


def test_a_time_without_zone_and_an_unknown_lane_are_refused(engine: Engine) -> None:
    with pytest.raises(ValueError, match="time zone"):
        engine.decide("SINGLE", lane="a", at=NOON.replace(tzinfo=None))
    with pytest.raises(UnknownLane, match="unknown lane 'c'"):
        engine.decide("SINGLE", lane="c", at=NOON)


def test_an_attention_verdict_holds_nothing_and_is_journaled_as_attention_not_refusal(engine: Engine) -> None:
    outcome = engine.admit("KID", lane="a", at=NOON)
    assert (outcome.decision.verdict, outcome.decision.reason, outcome.redemption) == (
        Verdict.ATTENTION, Reason.CHILD, None)
    entry = engine.ledger.journal()[-1]
    assert (entry.type, entry.reason, entry.entitlement_id) == ("attention", "child", "kid")
    assert engine.ledger.open_holds() == []


def test_each_decision_is_logged_once_by_ids_after_its_transaction(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gate.engine")
    other = sqlite3.connect(engine.config.ledger.path, timeout=0, isolation_level=None)
    writable = []

    def try_to_write(record: logging.LogRecord) -> None:
        """Another process's writer, while the line is written: it must not find the ledger locked."""
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            writable.append(True)
        except sqlite3.OperationalError:
            writable.append(False)

    handler = logging.Handler()
    handler.emit = try_to_write  # type: ignore[method-assign]
    logging.getLogger("gate.engine").addHandler(handler)
    try:
        redeemed = engine.redeem("CARD-OLD", lane="a", at=NOON)
        engine.decide("SINGLE", lane="b", at=NOON)
        engine.admit("NOBODY", lane="a", at=NOON)
        engine.admit("SINGLE", lane="a", at=NOON, logged=False)  # a lane writes it itself
    finally:
        logging.getLogger("gate.engine").removeHandler(handler)
        other.close()
    assert [r.getMessage() for r in caplog.records] == [
        f"decision lane=a verdict=admit reason=ok entitlement=old admitted=1 redemption={redeemed.redemption}",
        "decision lane=b verdict=admit reason=ok entitlement=single admitted=1 redemption=-",
        "decision lane=a verdict=deny reason=unknown_code entitlement=- admitted=0 redemption=-",
    ]
    assert "Jonas" not in caplog.text  # the holder of the credit membership: never by name
    assert writable == [True, True, True]  # no line keeps the ledger's write lock held


def test_a_stored_record_the_rules_cannot_decide_on_gets_an_answer_not_a_crash(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # A body written before today's bounds (pax over 999), as an older gate could have stored it.
    path = engine.ledger.path
    with sqlite3.connect(path) as conn:
        body = conn.execute("SELECT body FROM entitlement WHERE id = 'trio'").fetchone()[0]
        conn.execute("UPDATE entitlement SET body = ? WHERE id = 'trio'", (body.replace('"pax":3', '"pax":5000'),))
    caplog.set_level(logging.ERROR, logger="gate.engine")
    outcome = engine.admit("TRIO", lane="a", at=NOON)
    assert (outcome.decision.verdict, outcome.decision.reason) == (Verdict.DENY, Reason.UNDECIDABLE)
    assert outcome.decision.params == {"detail": "ValidationError"} and outcome.reference == "TRIO"
    [refusal] = [e for e in engine.ledger.journal() if e.type == "refusal"]
    assert refusal.reason == "undecidable" and outcome.decision_id == refusal.id
    assert "cannot be decided on" in caplog.text and "Traceback" in caplog.text
    assert engine.admit("SINGLE", lane="a", at=NOON).decision.admits  # the lane goes on
