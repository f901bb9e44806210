"""A real `gate run` lane with `[metrics] daemon`: scraped over HTTP after a few reads, as Prometheus would."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request

import aiohttp
import pytest

from tests.daemon.conftest import Start, Venue, wait_ready
from tests.display.screens import free_port
from tests.metrics.scrape import scrape, value
from tests.sync.conftest import until


async def _visitor_screen(url: str, venue: Venue, codes: list[str]) -> list[str]:
    """A visitor page on the lane's display: each code scanned, its result received, its paint reported."""
    painted = []
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"{url}ws?screen=visitor", origin=url.rstrip("/")
    ) as ws:
        async with asyncio.timeout(10):
            while (await ws.receive_json())["type"] != "status":
                pass
            for code in codes:
                venue.scan(code)
                while (message := await ws.receive_json())["type"] != "decision":
                    pass
                await ws.send_json({"type": "painted", "decision_id": message["decision_id"], "ms": 4.0})
                painted.append(message["reason"])
    return painted


def test_a_lane_is_scraped_with_its_decisions_passages_and_times(venue: Venue, start_daemon: Start) -> None:
    port, display = free_port(), free_port()
    venue.write_config(timeout=1.0, metrics={"daemon": f"127.0.0.1:{port}"}, display={"enabled": True, "port": display})
    daemon = start_daemon()
    wait_ready(daemon)
    _, before = scrape(port)
    assert value(before, "gate_decisions_total", lane="l1", verdict="admit", reason="ok") is None
    assert value(before, "gate_passages_total", lane="l1", outcome="released") == 0
    assert value(before, "gate_reader_up", lane="l1", reader="scan") == 1
    assert value(before, "gate_lane_mode", lane="l1", mode="normal") == 1
    assert value(before, "gate_read_to_relay_seconds_count", lane="l1") == 0

    # An admit and a refusal, each painted by a visitor screen; nobody passes, so the admit is released.
    assert asyncio.run(_visitor_screen(f"http://127.0.0.1:{display}/", venue, ["ONE", "NOPE"])) == [
        "ok", "unknown_code"]  # fmt: skip
    daemon.wait_until(lambda s: s["lane"]["passage"] is None and bool(s["lane"]["last_passages"]))
    text, after = scrape(port)
    assert value(after, "gate_decisions_total", lane="l1", verdict="admit", reason="ok") == 1
    assert value(after, "gate_decisions_total", lane="l1", verdict="deny", reason="unknown_code") == 1
    assert value(after, "gate_passages_total", lane="l1", outcome="released") == 1
    assert value(after, "gate_passages_total", lane="l1", outcome="committed") == 0
    assert value(after, "gate_read_to_relay_seconds_count", lane="l1") == 1  # the admit only: it pulsed the relay
    relay = value(after, "gate_read_to_relay_seconds_sum", lane="l1")
    assert relay is not None and 0 < relay < 1
    assert value(after, "gate_read_to_screen_seconds_count", lane="l1") == 2  # both results were painted
    assert value(after, "gate_reader_reads_total", lane="l1", reader="scan") == 2
    free = value(after, "gate_storage_free_bytes")
    assert free is not None and free > 0
    assert value(after, "gate_clock_trusted", lane="l1") in (0, 1)
    resident = value(after, "process_resident_memory_bytes")
    assert resident is not None and resident > 0
    # Ids and codes only: neither the ticket's id, its code nor its holder's name is in what is served.
    for secret in ("t-one", "ONE", "NOPE", "Marie", "Dupont", "h1"):
        assert secret not in text

    # States are sampled at the scrape: the mode staff set is the one served.
    assert venue.ask({"op": "mode", "mode": "locked", "reason": "closing"})["ok"]
    _, locked = scrape(port)
    assert value(locked, "gate_lane_mode", lane="l1", mode="locked") == 1
    assert value(locked, "gate_lane_mode", lane="l1", mode="normal") == 0

    # The endpoint stops with the daemon.
    assert daemon.stop() == 0
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_metrics_port_already_taken_is_said_in_one_line_and_exit_2(venue: Venue, start_daemon: Start) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        venue.write_config(metrics={"daemon": f"127.0.0.1:{port}"})
        daemon = start_daemon()
        assert daemon.process.wait(15) == 2
    said = f"metrics.daemon: cannot listen on 127.0.0.1:{port}: Address already in use"
    until(lambda: said in daemon.log, timeout=5, what=daemon.log)
    assert "Traceback" not in daemon.log
