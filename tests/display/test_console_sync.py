"""The staff console with a sync process: each recent decision says whether the hub has confirmed it or
it was decided offline, and the health view shows how fresh the hub's news is and the hub's
conflicts. A real ledger and decision point (tests/lane/conftest.py); the sync state is given to the
point as the daemon gives it (`sync_changed`, what it reads from the ledger every 2 s)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.point.events import SyncState
from gate.sync.conflicts import Conflict, Side, summary
from tests.display.consoles import STEWARD, staff_records
from tests.display.test_console_screen import _console
from tests.lane.conftest import NOON, Rig, make_rig, read


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    for made in make_rig(tmp_path):
        made.ledger.import_lines([json.dumps(r) for r in staff_records(today=NOON.date())], source="test")
        yield made


def _state(link: str, *, head_at: float, conflicts: tuple[Conflict, ...] = ()) -> SyncState:
    since = dt.datetime.now(dt.UTC).isoformat()
    return SyncState(lane="l1", monotonic=time.monotonic(), link=link, since=since, outbox=1, batch=3, head=3,
                     head_at=head_at, conflicts=tuple(summary(c) for c in conflicts))  # fmt: skip


def test_each_decision_says_confirmed_offline_or_waiting_and_health_shows_conflicts(rig: Rig) -> None:
    now = time.time()
    double = Conflict(
        id="r-2", entitlement_id="single", kind="ticket", found_at=now,
        first=Side(device="d1", redemption="r-1", at=now - 60, lane="l1"),
        second=Side(device="d2", redemption="r-2", at=now - 30, lane="l1", offline=True),
    )  # fmt: skip

    async def scenario() -> None:
        async with rig.lane() as lane, _console(lane) as page:
            await page.next("status")
            lane.point.sync_changed(_state("up", head_at=now))
            await lane.handle(read("SINGLE"))
            confirmed_through = rig.ledger.outbox().newest()
            rig.ledger.outbox().confirm(confirmed_through, at=dt.datetime.now(dt.UTC))  # the hub's mark came
            await lane.handle(read("OTHER"))  # sent, not confirmed yet
            lane.point.sync_changed(_state("down", head_at=now - 600))  # cut off; the hub silent for 10 min
            await lane.handle(read("NOBODY"))  # decided offline
            lane.point.sync_changed(_state("down", head_at=now - 600, conflicts=(double,)))

            assert (await page.login(*STEWARD))["ok"]
            rows = (await page.next("rows"))["rows"]
            health = await page.next("health")
            marks = (await page.next("marks"))["marks"]
            by_reason = {row["reason"]: marks.get(row["decision_id"]) for row in rows}
            assert [marks.get(row["decision_id"]) for row in rows] == ["offline", "waiting", "confirmed"], by_reason
            sync = health["sync"]
            assert sync["link"] == "down" and sync["head_at"] == pytest.approx(now - 600)
            [shown] = sync["conflicts"]
            sides = (shown["first"]["device"], shown["second"]["device"])
            assert shown["entitlement_id"] == "single" and sides == ("d1", "d2")
            assert shown["second"]["offline"] is True
            assert "holder" not in json.dumps(sync)  # ids, devices and times: never a holder

    asyncio.run(scenario())
