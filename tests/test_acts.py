"""Staff acts in the engine on a real ledger: overrides, attention confirmations and voids."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gate import acts
from gate.acts import ActRefused, NeedsConfirmation
from gate.cache import Ledger
from gate.config import parse_config
from gate.decision import Ask
from gate.engine import Engine
from gate.reasons import Reason, Verdict
from tests.configs import config_text

PARIS = ZoneInfo("Europe/Paris")
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)
SHOW = dt.datetime(2026, 6, 1, 19, 0, tzinfo=PARIS)
RECORDS = [
    {"type": "holder", "id": "h1", "version": 1, "display_name": "Jonas Weber"},
    {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500},
    {"type": "event", "id": "hamlet", "version": 1, "name": "Hamlet"},
    {"type": "performance", "id": "p1", "version": 1, "event": "hamlet", "starts_at": SHOW.isoformat()},
    {"type": "entitlement", "kind": "ticket", "id": "single", "version": 1, "day": "2026-06-01",
     "references": ["SINGLE"]},
    {"type": "entitlement", "kind": "ticket", "id": "tomorrow", "version": 1, "day": "2026-06-02", "pax": 2,
     "references": ["TOMORROW"]},
    {"type": "entitlement", "kind": "ticket", "id": "kid", "version": 1, "day": "2026-06-01", "flags": ["child"],
     "references": ["KID"]},
    {"type": "entitlement", "kind": "credit_membership", "id": "card", "version": 1, "holder": "h1", "credits": 1,
     "eligible_products": ["entry"], "purchased_at": "2026-01-01T10:00+01:00", "purchase_tz": "Europe/Paris",
     "expires_on": "2026-12-31", "references": ["CARD"]},
    {"type": "entitlement", "kind": "voucher", "id": "gift", "version": 1, "events": ["hamlet"],
     "references": ["GIFT"]},
]  # fmt: skip
LANES = {"a": {"zone": "main", "product": "entry"}, "b": {"zone": "main", "product": "entry"},
         "k": {"zone": "main", "kiosk": True}}  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "ledger.sqlite"
    config = parse_config(config_text(lanes={"l1": None, **LANES}, ledger={"path": str(path)}))
    with Ledger.open(path) as ledger:
        ledger.import_lines([json.dumps(r) for r in RECORDS], source="test")
        yield Engine(ledger, config)


def _refused(engine: Engine, code: str, *, at: dt.datetime = NOON, lane: str = "a") -> str:
    outcome = engine.admit(code, lane=lane, at=at)
    assert outcome.decision.verdict is Verdict.DENY and outcome.decision_id is not None, outcome.decision
    return outcome.decision_id


def _journal(engine: Engine, type_: str) -> list[dict[str, object]]:
    return [{**e.body, "_redemption": e.redemption_id} for e in engine.ledger.journal() if e.type == type_]


def test_an_override_admits_an_unknown_code_once_as_a_use_of_nothing_and_journals_who_and_why(engine: Engine) -> None:
    refusal = _refused(engine, "NOBODY")
    outcome, journal_id = acts.override(engine, refusal, lane="a", at=NOON, by="pin:s1", why="paper list")
    decision = outcome.decision
    assert (decision.verdict, decision.reason, decision.admitted, decision.plan) == (
        Verdict.ADMIT, Reason.OVERRIDE, 1, ()
    )  # fmt: skip
    assert outcome.redemption is not None and [h.id for h in engine.ledger.open_holds()] == [outcome.redemption]
    [act] = _journal(engine, acts.OVERRIDE)
    assert act["decision"] == refusal and act["staff"] == "pin:s1" and act["why"] == "paper list"
    assert act["_redemption"] == outcome.redemption and engine.ledger.entry(journal_id) is not None
    # Once is enough: the same refusal is not overridden twice.
    with pytest.raises(ActRefused, match="overridden already"):
        acts.override(engine, refusal, lane="a", at=NOON, by="pin:s1", why="again")


def test_an_override_records_one_use_that_later_limits_see(engine: Engine) -> None:
    refusal = _refused(engine, "TOMORROW")  # a ticket for another day
    outcome, _ = acts.override(engine, refusal, lane="a", at=NOON, by="pin:s1", why="date misprinted")
    assert outcome.decision.admitted == 2 and [u.persons for u in outcome.decision.plan] == [2]
    engine.commit(outcome.redemption or "", at=NOON)
    uses = engine.ledger.uses(["tomorrow"])
    assert [(u.entitlement_id, u.persons, u.held) for u in uses] == [("tomorrow", 2, False)]
    # Tomorrow, its two persons were admitted already: the override counted as its entry.
    later = engine.admit("TOMORROW", lane="a", at=NOON + dt.timedelta(days=1))
    assert later.decision.verdict is Verdict.DENY and later.decision.reason is Reason.ALREADY_USED


def test_an_override_takes_a_credit_only_while_one_is_left(engine: Engine) -> None:
    first = engine.admit("CARD", lane="a", at=NOON)
    engine.commit(first.redemption or "", at=NOON)  # the one credit is spent
    refusal = _refused(engine, "CARD", at=NOON + dt.timedelta(minutes=20))
    outcome, _ = acts.override(
        engine, refusal, lane="a", at=NOON + dt.timedelta(minutes=21), by="pin:s1", why="member", confirm=True
    )
    [use] = outcome.decision.plan
    assert (use.entitlement_id, use.persons, use.credits, outcome.decision.balance) == ("card", 1, 0, 0)


def test_an_override_of_an_entitlement_admitted_here_lately_needs_its_confirmation(engine: Engine) -> None:
    first = engine.admit("SINGLE", lane="b", at=NOON)
    engine.commit(first.redemption or "", at=NOON)
    refusal = _refused(engine, "SINGLE", at=NOON + dt.timedelta(minutes=5))
    at = NOON + dt.timedelta(minutes=6)
    with pytest.raises(NeedsConfirmation, match="admitted here at 12:00"):
        acts.override(engine, refusal, lane="a", at=at, by="pin:s1", why="re-entry")
    assert _journal(engine, acts.OVERRIDE) == []  # refused: nothing journaled, nothing held
    assert engine.ledger.open_holds() == []
    outcome, _ = acts.override(engine, refusal, lane="a", at=at, by="pin:s1", why="re-entry", confirm=True)
    assert outcome.redemption is not None and _journal(engine, acts.OVERRIDE)[0]["confirmed"] is True


def test_an_override_is_refused_late_elsewhere_or_for_what_is_no_refusal(engine: Engine) -> None:
    refusal = _refused(engine, "NOBODY")
    with pytest.raises(ActRefused, match="read the code again"):
        acts.override(engine, refusal, lane="a", at=NOON + dt.timedelta(minutes=6), by="pin:s1", why="late")
    with pytest.raises(ActRefused, match="not b"):
        acts.override(engine, refusal, lane="b", at=NOON, by="pin:s1", why="elsewhere")
    admit = engine.admit("SINGLE", lane="a", at=NOON)
    with pytest.raises(ActRefused, match="no refusal"):
        acts.override(engine, admit.decision_id or "", lane="a", at=NOON, by="pin:s1", why="an admit")
    attention = engine.admit("KID", lane="a", at=NOON)
    with pytest.raises(ActRefused, match="confirm it instead"):
        acts.override(engine, attention.decision_id or "", lane="a", at=NOON, by="pin:s1", why="kid")


def test_a_confirmed_attention_verdict_is_decided_again_and_may_then_refuse(engine: Engine) -> None:
    attention = engine.admit("KID", lane="a", at=NOON)
    assert attention.decision.verdict is Verdict.ATTENTION and attention.redemption is None
    ask = Ask(direction="entry")
    outcome, _ = acts.confirm(engine, "KID", decision_id=attention.decision_id or "", lane="a", at=NOON, ask=ask,
                              by="pin:s1", why="adult with the child")  # fmt: skip
    assert (outcome.decision.verdict, outcome.decision.reason) == (Verdict.ADMIT, Reason.OK)
    engine.commit(outcome.redemption or "", at=NOON)
    [act] = _journal(engine, acts.CONFIRM)
    assert act["decision"] == attention.decision_id and act["_redemption"] == outcome.redemption
    # Confirmed again later: the ticket was used since, so the new decision refuses.
    again, _ = acts.confirm(engine, "KID", decision_id="x", lane="a", at=NOON, ask=ask, by="pin:s1", why="again")
    assert again.decision.reason is Reason.ALREADY_USED and again.redemption is None
    assert again.decision_id is not None and engine.ledger.entry(again.decision_id) is not None


@pytest.mark.parametrize("folded", [False, True], ids=["in the tail", "folded into usage"])
def test_a_void_gives_the_uses_back_folded_or_not(engine: Engine, tmp_path: Path, folded: bool) -> None:
    held = engine.admit("SINGLE", lane="a", at=NOON)
    engine.commit(held.redemption or "", at=NOON)
    if folded:
        engine.ledger.checkpoint(force=True)
    other = Ledger.open(tmp_path / "ledger.sqlite")  # another process's view (a `gate check`)
    try:
        assert len(other.uses(["single"])) == 1
        voided = acts.void(engine, held.redemption or "", at=NOON + dt.timedelta(hours=1), by="pin:s2", why="refund")
        assert voided.entitlement_id == "single" and len(voided.uses) == 1
        assert engine.ledger.uses(["single"]) == () and other.uses(["single"]) == ()
    finally:
        other.close()
    assert engine.admit("SINGLE", lane="a", at=NOON + dt.timedelta(hours=2)).decision.admits
    [act] = _journal(engine, "redemption.voided")
    assert act["staff"] == "pin:s2" and act["why"] == "refund" and act["_redemption"] == held.redemption
    with pytest.raises(ActRefused, match="voided"):
        acts.void(engine, held.redemption or "", at=NOON + dt.timedelta(hours=3), by="pin:s2", why="twice")


def test_a_void_is_refused_for_a_held_an_unknown_or_an_old_redemption(engine: Engine) -> None:
    held = engine.admit("SINGLE", lane="a", at=NOON)
    with pytest.raises(ActRefused, match="held"):
        acts.void(engine, held.redemption or "", at=NOON, by="pin:s2", why="x")
    engine.commit(held.redemption or "", at=NOON)
    with pytest.raises(ActRefused, match="no redemption"):
        acts.void(engine, "0" * 32, at=NOON, by="pin:s2", why="x")
    with pytest.raises(ActRefused, match=r"only the last 24 h"):
        acts.void(engine, held.redemption or "", at=NOON + dt.timedelta(hours=25), by="pin:s2", why="x")
    assert len(engine.ledger.uses(["single"])) == 1


def test_voiding_a_voucher_redemption_withdraws_its_admission_unless_it_was_used(engine: Engine) -> None:
    redeemed = engine.redeem("GIFT", lane="k", at=NOON, ask=Ask(performance="p1"))
    assert redeemed.decision.reason is Reason.REDEEMED
    assert engine.ledger.resolve("GIFT") == ("gift:admission",)
    acts.void(engine, redeemed.redemption or "", at=NOON, by="pin:s2", why="wrong show")
    assert engine.ledger.resolve("GIFT") == ("gift",) and engine.ledger.uses(["gift"]) == ()
    # Redeemed again, and this time the admission is used at the lane: no void any more.
    again = engine.redeem("GIFT", lane="k", at=NOON, ask=Ask(performance="p1"))
    assert again.decision.reason is Reason.REDEEMED
    entry = engine.admit("GIFT", lane="a", at=SHOW - dt.timedelta(minutes=10))
    assert entry.decision.admits, entry.decision
    engine.commit(entry.redemption or "", at=SHOW - dt.timedelta(minutes=10))
    with pytest.raises(ActRefused, match="admission 'gift:admission' was used"):
        acts.void(engine, again.redemption or "", at=SHOW, by="pin:s2", why="too late")
    assert engine.ledger.resolve("GIFT") == ("gift:admission",)
