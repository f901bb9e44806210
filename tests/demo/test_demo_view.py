"""The demo's terminal view shows money in the site's currency, as `gate check` does."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from gate.cache import Ledger
from gate.config import parse_config
from gate.demo.view import LaneView
from gate.engine import Engine
from gate.point import DecisionPoint
from gate.scanner.read import Read
from tests.configs import config_text

PARIS = ZoneInfo("Europe/Paris")
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)
RECORDS = [
    {"type": "holder", "id": "h1", "version": 1, "display_name": "Jonas Weber"},
    {"type": "product", "id": "entry", "version": 1, "name": "Entry", "price_cents": 1500},
    {"type": "product", "id": "workshop", "version": 1, "name": "Workshop", "price_cents": 1200},
    {"type": "entitlement", "kind": "credit_membership", "id": "card", "version": 1, "holder": "h1", "credits": 1,
     "eligible_products": ["entry"], "purchased_at": "2026-01-01T10:00+01:00", "purchase_tz": "Europe/Paris",
     "expires_on": "2026-12-31", "references": ["CARD"]},
]  # fmt: skip


def test_the_view_shows_what_is_left_to_pay_in_the_sites_currency(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    lanes = {"l1": {"product": "entry"}, "k": {"zone": "main", "kiosk": True}}
    config = parse_config(config_text(site={"currency": "GBP"}, lanes=lanes, ledger={"path": path}))
    out = io.StringIO()

    async def scenario() -> None:
        async with DecisionPoint(engine=engine, lanes=["l1", "k"], clock=lambda: NOON) as point:
            view = LaneView(point, "l1", out=out, tty=False, tz=PARIS)
            # At the kiosk: an entry, which the one credit pays, and a workshop no credit covers.
            session = await point.kiosk_read(Read("CARD", None, "test", "entry"), lane="k")
            await point.kiosk_choose("k", session.session, items=("entry", "workshop"))
            await point.kiosk_cancel("k", session.session)
            # At the lane: two people on the one credit, the second one's entry left to pay.
            await point.decide(Read("CARD", None, "test", "entry"), lane="l1", party=2)
            view.drain()
            view.close()

    with Ledger.open(path) as ledger:
        ledger.import_lines([json.dumps(r) for r in RECORDS], source="test")
        engine = Engine(ledger, config)
        asyncio.run(scenario())
    text = out.getvalue()
    assert "£12.00 to pay" in text and "£15.00 to pay" in text, text
    assert "€" not in text
