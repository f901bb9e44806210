"""Kiosk sessions on a real ledger, engine and decision point: a kiosk lane, no turnstile."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gate.cache import JournalEntry, Ledger
from gate.config import parse_config
from gate.engine import Engine
from gate.errors import GateError
from gate.point import DecisionPoint
from gate.reasons import Reason
from gate.scanner.read import Read
from tests.configs import config_text

PARIS = ZoneInfo("Europe/Paris")
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)
SHOW = dt.datetime(2026, 6, 1, 19, 0, tzinfo=PARIS)
RECORDS: list[dict[str, Any]] = [
    {"type": "holder", "id": "h1", "version": 1, "display_name": "Jonas Weber"},
    {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500},
    {"type": "product", "id": "workshop", "version": 1, "name": "Workshop", "price_cents": 1200},
    {"type": "entitlement", "kind": "credit_membership", "id": "card", "version": 1, "holder": "h1", "credits": 3,
     "eligible_products": ["entry"], "purchased_at": "2026-01-01T10:00+01:00", "purchase_tz": "Europe/Paris",
     "expires_on": "2026-12-31", "references": ["CARD"]},
    {"type": "event", "id": "hamlet", "version": 1, "name": "Hamlet"},
    {"type": "performance", "id": "p1", "version": 1, "event": "hamlet", "starts_at": SHOW.isoformat()},
    {"type": "event", "id": "lear", "version": 1, "name": "King Lear"},
    {"type": "performance", "id": "lear-1", "version": 1, "event": "lear", "starts_at": "2026-06-01T12:30+02:00"},
    {"type": "entitlement", "kind": "membership", "id": "m1", "version": 1, "holder": "h1", "valid_from": "2026-01-01",
     "expires_on": "2026-12-31", "references": ["MEMBER"],
     "benefits": [{"kind": "entry", "access": {"limits": [{"per": "day", "count": 1}]}}]},
    {"type": "entitlement", "kind": "subscription", "id": "s1", "version": 1, "events": ["lear"], "quantity": 2,
     "references": ["SUB"]},
    {"type": "entitlement", "kind": "voucher", "id": "v-1", "version": 1, "events": ["hamlet"],
     "references": ["GIFT-1"]},
    {"type": "entitlement", "kind": "voucher", "id": "v-2", "version": 1, "events": ["hamlet"],
     "references": ["GIFT-2"]},
]  # fmt: skip


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "ledger.sqlite"
    config = parse_config(config_text(lanes={"k": {"zone": "main", "kiosk": True}}, ledger={"path": path}))
    with Ledger.open(path) as ledger:
        ledger.import_lines([json.dumps(r) for r in RECORDS], source="test")
        yield Engine(ledger, config)


@contextlib.asynccontextmanager
async def kiosk(engine: Engine) -> AsyncIterator[DecisionPoint]:
    async with DecisionPoint(engine=engine, lanes=["k"], clock=lambda: NOON) as point:
        yield point


def read(code: str) -> Read:
    return Read(code, None, "test", "entry")


def journal(engine: Engine, type_: str) -> list[JournalEntry]:
    return [e for e in engine.ledger.journal() if e.type == type_]


async def _two_vouchers_held_and_one_released_elsewhere(point: DecisionPoint) -> tuple[str, str, str]:
    """Two vouchers in one session, both held; then staff release the second (a session's
    hold finished by someone else): its commit fails."""
    await point.kiosk_read(read("GIFT-1"), lane="k")
    view = await point.kiosk_read(read("GIFT-2"), lane="k")
    assert [c.entitlement_id for c in view.codes] == ["v-1", "v-2"]
    view = await point.kiosk_choose("k", view.session, performance="p1")
    first, second = (outcome.redemption for outcome in view.held)
    assert first is not None and second is not None
    await point.release(second, why="staff: wrong voucher")
    return view.session, first, second


@pytest.mark.parametrize("then", ["choose again", "cancel"])
def test_a_confirm_whose_second_commit_fails_commits_nothing(engine: Engine, then: str) -> None:
    async def scenario() -> None:
        async with kiosk(engine) as point:
            session, first, second = await _two_vouchers_held_and_one_released_elsewhere(point)
            with pytest.raises(GateError, match="already released"):
                await point.kiosk_confirm("k", session)
            # All or nothing: the first voucher's commit is not kept either.
            assert journal(engine, "redemption.committed") == []
            assert [h.id for h in engine.ledger.open_holds()] == [first]
            assert [e.id for e in engine.ledger.find("GIFT-1")] == ["v-1"]  # no admission issued
            # The session still holds both, and says why it is not confirmed.
            view = point.kiosk_session("k")
            assert view is not None and view.state == "held"
            assert [o.redemption for o in view.held] == [first, second]
            assert view.unconfirmed is not None and "already released" in view.unconfirmed

            if then == "cancel":
                # A cancel is clean: the first is released, the one released elsewhere left as it is.
                done = await point.kiosk_cancel("k", session)
                assert done.state == "cancelled" and point.kiosk_session("k") is None
                assert engine.ledger.open_holds() == []
                released = {e.redemption_id: e.body["why"] for e in journal(engine, "redemption.released")}
                assert released == {second: "staff: wrong voucher", first: "kiosk: cancelled"}
                assert journal(engine, "redemption.committed") == []
                return
            # A retry is clean: choosing again holds both anew, and the confirm commits both.
            view = await point.kiosk_choose("k", session, performance="p1")
            assert view.state == "held" and len(view.held) == 2 and view.unconfirmed is None
            done = await point.kiosk_confirm("k", session)
            assert done.state == "confirmed" and done.unconfirmed is None
            committed = journal(engine, "redemption.committed")
            assert sorted(e.entitlement_id or "" for e in committed) == ["v-1", "v-2"]
            assert engine.ledger.open_holds() == []
            assert [e.id for e in engine.ledger.find("GIFT-1")] == ["v-1:admission"]

    asyncio.run(scenario())


def test_a_credit_purchase_at_a_kiosk_journals_what_the_credits_cover_and_what_is_left_to_pay(engine: Engine) -> None:
    async def scenario() -> None:
        async with kiosk(engine) as point:
            view = await point.kiosk_read(read("CARD"), lane="k")
            # An entry, which a credit pays for, and a workshop, which no credit covers.
            view = await point.kiosk_choose("k", view.session, items=("entry", "workshop"))
            (held,) = view.held
            assert (held.decision.covered, held.decision.to_pay) == (("entry",), 1200)
            await point.kiosk_confirm("k", view.session)
            # A voucher's redemption has neither: its rows stay as small as they were.
            view = await point.kiosk_read(read("GIFT-1"), lane="k")
            await point.kiosk_choose("k", view.session, performance="p1")
            await point.kiosk_confirm("k", view.session)

    asyncio.run(scenario())
    for type_ in ("redemption.held", "redemption.committed"):
        card, gift = journal(engine, type_)
        assert card.entitlement_id == "card" and (card.body["covered"], card.body["to_pay"]) == (["entry"], 1200)
        assert gift.entitlement_id == "v-1" and "covered" not in gift.body and "to_pay" not in gift.body


def test_a_membership_or_a_subscription_read_at_a_kiosk_is_for_the_lanes_and_nothing_is_consumed(
    engine: Engine,
) -> None:
    async def scenario() -> None:
        async with kiosk(engine) as point:
            # A member (one visit a day): the session shows the card for the lanes, nothing to choose.
            view = await point.kiosk_read(read("MEMBER"), lane="k")
            (code,) = view.codes
            assert (code.entitlement_id, code.kind, code.decision.reason) == ("m1", "membership", Reason.FOR_LANES)
            assert code.decision.holder == "Jonas W." and code.options == ()
            # Choosing anyway holds nothing.
            view = await point.kiosk_choose("k", view.session, items=("entry",))
            assert view.held == () and view.refused is not None and view.refused.reason is Reason.FOR_LANES
            # A subscription: for the lanes, with its seats left for the show on now.
            view = await point.kiosk_read(read("SUB"), lane="k")
            (code,) = view.codes
            decision = code.decision
            assert (decision.reason, decision.kind, decision.balance) == (Reason.FOR_LANES, "subscription", 2)
            assert decision.params["show"] == "King Lear"
            await point.kiosk_cancel("k", view.session)

    asyncio.run(scenario())
    assert journal(engine, "redemption.held") == [] and engine.ledger.open_holds() == []
    # The member's visit of the day and both seats are still there at the lane.
    later = NOON + dt.timedelta(minutes=5)
    assert engine.redeem("MEMBER", lane="l1", at=later).decision.reason is Reason.OK
    seats = engine.redeem("SUB", lane="l1", at=later).decision
    assert (seats.reason, seats.admitted) == (Reason.OK, 2)
