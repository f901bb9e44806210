"""The sync process's state reaches the lane's daemon: `gate lane status`, the staff console's health
and the visitor screen's neutral badge, read from the ledger where `gate sync` writes it."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aiohttp

from gate.cache import Ledger
from tests.daemon.conftest import Start, Venue, wait_ready
from tests.display.screens import free_port


def _link(venue: Venue, state: dict[str, str]) -> None:
    with Ledger.open(venue.ledger, create=False) as ledger:  # as gate sync writes it, beside the lane
        ledger.outbox().link(state)


async def _status_sync(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"{url}ws?screen=visitor", origin=url.rstrip("/")
    ) as ws:
        async with asyncio.timeout(5):
            while (message := await ws.receive_json())["type"] != "status":
                pass
        return message["sync"]


def test_the_sync_link_state_reaches_status_and_the_screens(venue: Venue, start_daemon: Start) -> None:
    port = free_port()
    venue.write_config(display={"enabled": True, "port": port})
    daemon = start_daemon()
    status = wait_ready(daemon)
    assert status["sync"] is None  # no sync process on this device: nothing said
    url = f"http://127.0.0.1:{port}/"
    assert asyncio.run(_status_sync(url)) is None

    _link(venue, {"link": "down", "since": "2026-12-04T10:00:00+00:00", "outbox": "7", "device": "d1"})
    status = daemon.wait_until(lambda s: s["sync"] is not None)
    assert {k: status["sync"][k] for k in ("link", "since", "outbox")} == {
        "link": "down", "since": "2026-12-04T10:00:00+00:00", "outbox": 7}  # fmt: skip
    assert asyncio.run(_status_sync(url)) == "down"  # the visitor screen: a neutral badge only
    _link(venue, {"link": "up", "outbox": "0"})
    daemon.wait_until(lambda s: s["sync"]["link"] == "up" and s["sync"]["outbox"] == 0)
    # The ledger down: how far, and why a batch was refused, for the console's health view.
    _link(venue, {"batch_seq": "3", "head": "5", "ledger_problem": "batch 4 refused: its signature does not check out"})
    status = daemon.wait_until(lambda s: s["sync"]["problem"] != "")
    assert (status["sync"]["batch"], status["sync"]["head"]) == (3, 5)
    assert status["sync"]["problem"] == "batch 4 refused: its signature does not check out"
    assert daemon.stop() == 0


def test_a_lane_cut_off_longer_than_its_policy_refuses_single_use_tickets(venue: Venue, start_daemon: Start) -> None:
    venue.write_config(sync={"offline": {"refuse": {"ticket": 600}}})
    daemon = start_daemon()
    wait_ready(daemon)
    cut = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
    _link(venue, {"link": "down", "since": cut.isoformat(), "outbox": "3"})
    daemon.wait_until(lambda s: s["sync"] is not None and s["sync"]["link"] == "down")
    venue.scan("ONE")
    status = daemon.wait_until(lambda s: bool(s["lane"]["last_decisions"]))
    refused = status["lane"]["last_decisions"][-1]
    assert (refused["verdict"], refused["reason"]) == ("deny", "offline")
    # In step again: the same ticket is admitted (and reconciled by the hub if it was used elsewhere).
    _link(venue, {"link": "up", "since": dt.datetime.now(dt.UTC).isoformat(), "outbox": "0"})
    daemon.wait_until(lambda s: s["sync"]["link"] == "up")
    venue.scan("ONE")
    status = daemon.wait_until(lambda s: len(s["lane"]["last_decisions"]) == 2)
    assert status["lane"]["last_decisions"][-1]["verdict"] == "admit"
    assert venue.ask({"op": "sim_passage"})["ok"]
    assert daemon.stop() == 0
