"""What a storage fault keeps in memory is bounded: past the bound, refusals are counted, and the
count is journaled once the ledger can be written again."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gate.cache import Ledger, StorageError
from gate.config import parse_config
from gate.engine import Engine
from gate.point.storage import KEPT_REFUSALS, KeptRefusal, Storage
from tests.configs import config_text

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)


def test_refusals_past_the_bound_are_counted_and_the_count_journaled(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        engine = Engine(ledger, parse_config(config_text(ledger={"path": str(path)})))

        async def run(call: Callable[[], Any]) -> Any:
            return call()

        async def scenario() -> None:
            storage = Storage(engine=engine, run=run, monotonic=asyncio.get_running_loop().time)
            assert storage.enter(StorageError("disk full"), NOON)
            for i in range(KEPT_REFUSALS + 5):
                outcome = engine.decide(f"NOBODY-{i}", lane="l1", at=NOON, closed="out_of_order")
                storage.keep(KeptRefusal(outcome, "l1", NOON, "entry"))
            assert (len(storage.refusals), storage.lost) == (KEPT_REFUSALS, 5)
            assert await storage.recover(NOON)
            assert storage.fault is None and storage.refusals == []

        asyncio.run(scenario())
        journal = ledger.journal(limit=5000)
    refusals = [e for e in journal if e.type == "refusal"]
    assert len(refusals) == KEPT_REFUSALS and {e.reason for e in refusals} == {"lane_closed"}
    (recovered,) = [e for e in journal if e.type == "storage.recovered"]
    assert (recovered.body["refusals_lost"], recovered.body["fault"]) == (5, "disk full")


def test_a_kept_commit_that_went_through_after_all_is_not_written_twice(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.import_lines(['{"type": "entitlement", "kind": "ticket", "id": "t-1", "version": 1, '
                             '"day": "2026-06-01", "references": ["ONE"]}'], source="test")  # fmt: skip
        engine = Engine(ledger, parse_config(config_text(ledger={"path": str(path)})))
        held = engine.admit("ONE", lane="l1", at=NOON)
        redemption = held.redemption or ""
        # Its COMMIT went through; the sync after it failed, so the lane kept it to write again.
        engine.commit(redemption, at=NOON)

        async def run(call: Callable[[], Any]) -> Any:
            return call()

        async def scenario() -> None:
            storage = Storage(engine=engine, run=run, monotonic=asyncio.get_running_loop().time)
            storage.enter(StorageError("cannot sync"), NOON)
            storage.defer(f"commit of {redemption}", lambda: engine.commit(redemption, at=NOON))
            assert await storage.recover(NOON)  # over, not stuck on "already committed"
            assert storage.deferred == []

        asyncio.run(scenario())
        committed = [e for e in ledger.journal() if e.type == "redemption.committed"]
    assert [e.redemption_id for e in committed] == [redemption]
