"""The staff console's screen in process, without a browser: a real ledger, decision point and turnstile
on mock pins (tests/lane/conftest.py), the display's app on loopback, and the lane's own login and
commands (`LaneControls`, what the demo serves). What a console is sent without a session and with
one, the device-wide PIN lockout and a badge during it, the role's limits, the idle end."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gate.daemon.acts import LaneControls
from gate.display import DisplayServer, console
from gate.display.app import STATIC
from gate.display.console_messages import allowed_ops
from gate.point.commands import Audience
from tests.display.consoles import STEWARD, SUPERVISOR, Console, badge, staff_records
from tests.lane.conftest import NOON, Rig, RunningLane, make_rig, read


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    for made in make_rig(tmp_path):
        made.ledger.import_lines([json.dumps(r) for r in staff_records(today=NOON.date())], source="test")
        yield made


@asynccontextmanager
async def _console(lane: RunningLane, query: str = "") -> AsyncIterator[Console]:
    controls = {lane.id: LaneControls(lane.point, lane.id, lane.turnstile)}
    display = DisplayServer(point=lane.point, lane=lane.id, controls=controls, port=0)
    async with display, aiohttp.ClientSession() as session, _page(session, display.url, f"console{query}") as ws:
        page = Console(ws)
        page.url = display.url
        yield page


def _page(session: aiohttp.ClientSession, url: str, screen: str) -> Any:
    return session.ws_connect(f"{url}ws?screen={screen}", origin=url.rstrip("/"))


def test_without_a_session_a_console_is_sent_no_decision_and_every_command_is_refused(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane, _console(lane, "&lang=fr") as page:
            status = await page.next("status")
            assert (status["session"], status["language"], status["words"]["login"]) == (None, "fr", "Se connecter")
            await lane.handle(read("SINGLE"))
            refused = await page.command(op="open", reason="x")
            assert refused == {"type": "answer", "id": 1, "ok": False, "error": "no staff session: log in first"}
            # The test kit's simulations are no console command, whoever asks.
            kit = await page.command(op="sim_passage")
            assert not kit["ok"] and "sim_passage" in kit["error"]
            assert [m["type"] for m in page.seen] == ["status", "answer", "answer"]  # no decision, no name
            page.seen.clear()
            # A visitor touches "Call staff": a banner, session or not; and on a console page opened later.
            async with aiohttp.ClientSession() as session, _page(session, page.url, "visitor") as visitor:
                await visitor.send_json({"type": "call_staff"})
                assert await page.next("called") == {"type": "called", "lane": "l1"}
                async with _page(session, page.url, "console") as ws:
                    late = Console(ws)
                    assert (await late.next("status"))["session"] is None
                    assert await late.next("called") == {"type": "called", "lane": "l1"}
            page.seen.clear()

            # A steward logs in: the reads since the page connected come, in the staff text.
            assert (await page.login(*STEWARD))["ok"]
            opened = await page.next("session")
            assert (opened["by"], opened["role"], opened["via"]) == ("pin:s-1", "steward", "pin")
            assert opened["allowed"] == allowed_ops(Audience.STEWARD) == ["open", "confirm", "typed", "lookup"]
            rows = (await page.next("rows"))["rows"]
            assert [(r["verdict"], r["reason"]) for r in rows] == [("admit", "ok")]
            # The server refuses a supervisor's act from a steward's console, whatever the page offers.
            override = await page.command(op="override", decision=rows[0]["decision_id"], reason="x")
            assert override["error"] == "override: not allowed for a steward (allowed: supervisor)"
            mode = await page.command(op="mode", mode="locked", reason="x")
            assert not mode["ok"] and lane.status().mode.value == "normal"
            looked = await page.command(op="lookup", reference="OTHER")
            assert looked["ok"] and looked["lookup"]["entitlement"]["id"] == "other"
            assert set(looked["lookup"]) == {"reference", "verdict", "reason", "text", "holder", "balance",
                                             "entitlement", "uses"}  # fmt: skip
            await page.ws.send_json({"type": "logout"})
            assert (await page.next("session"))["why"] == "logout"
            after = await page.command(op="lookup", reference="OTHER")
            assert after["error"] == "no staff session: log in first"
        lookups = rig.journal("lookup")
        assert [(e.entitlement_id, e.body["staff"]) for e in lookups] == [("other", "pin:s-1")]

    asyncio.run(scenario())


def test_wrong_pins_lock_the_device_journaled_and_a_badge_still_opens_the_console(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane, _console(lane) as page:
            await page.next("status")
            # Five wrong PINs, each for another staff id: the count is the device's, not an id's.
            for attempt, staff in enumerate(("s-1", "s-2", "nobody", "s-1", "s-2"), start=1):
                answer = await page.login(staff, "0000")
                assert not answer["ok"], answer
                assert (answer["locked_s"] > 0) == (attempt == 5), answer
            assert (await page.next("lock"))["locked_s"] == 300
            # The right PIN during the lock is not even tried.
            right = await page.login(*SUPERVISOR)
            assert not right["ok"] and right["error"].startswith("too many wrong PINs: PIN entry is locked for")
            # A staff badge read at the lane's reader opens the console all the same.
            await lane.point.decide(read(badge(now=NOON)), lane=lane.id)
            opened = await page.next("session")
            assert (opened["by"], opened["role"], opened["via"]) == ("badge:b-s-2", "supervisor", "badge")

    asyncio.run(scenario())
    refused = rig.journal("staff.login_refused")
    assert [(e.body["via"], e.body["staff_id"], e.reason) for e in refused] == [
        ("pin", "s-1", "wrong_pin"), ("pin", "s-2", "wrong_pin"), ("pin", "nobody", "wrong_pin"),
        ("pin", "s-1", "wrong_pin"), ("pin", "s-2", "wrong_pin"), ("pin", "s-2", "pin_locked"),
    ]  # fmt: skip
    assert all(e.lane == "l1" for e in refused)
    (lock,) = rig.journal("staff.pin_lockout")
    assert (lock.body["attempts"], lock.body["seconds"], lock.body["staff_id"]) == (5, 300.0, "s-2")
    journal = json.dumps([e.body for e in rig.ledger.journal()])
    assert "0000" not in journal and "1357" not in journal  # never the digits


def test_a_session_ends_after_the_idle_time_on_the_server_whatever_the_page_does(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane, _console(lane) as page:
            await page.next("status")
            assert (await page.login(*SUPERVISOR))["ok"]
            await page.next("session", open=True)
            # A touch restarts the idle timer; then nothing for console_idle_s (120 s): logged out.
            await page.ws.send_json({"type": "touch"})
            assert (await page.command(op="mode", mode="free", reason="cleaning"))["ok"]  # the touch was heard first
            health = await page.next("health", mode="free")
            assert (health["cause"], health["mode_reason"], health["storage_fault"]) == ("staff", "cleaning", None)
            real = console.monotonic
            monkeypatch.setattr(console, "monotonic", lambda: real() + 121)
            ended = await page.next("session", timeout=3)
            assert ended == {"type": "session", "open": False, "why": "idle"}
            refused = await page.command(op="mode", mode="locked", reason="x")
            assert refused["error"] == "no staff session: log in first"
            assert lane.status().mode.value == "free"

    asyncio.run(scenario())


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_colour_pair_of_the_console_passes_wcag_aa_and_its_page_has_no_inline_code() -> None:
    css = (STATIC / "console.css").read_text()
    colours = dict(re.findall(r"--([a-z]+-[bf]g):\s*(#[0-9a-f]{6});", css))
    pairs = {name.removesuffix("-bg") for name in colours if name.endswith("-bg")}
    assert len(pairs) >= 10 and all(f"{name}-fg" in colours for name in pairs)
    for name in pairs:
        light, dark = sorted((_luminance(colours[f"{name}-bg"]), _luminance(colours[f"{name}-fg"])), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, name
    assert re.search(r"font-size:\s*24px", css) and "min-height: 48px" in css  # body text, touch targets
    html = (STATIC / "console.html").read_text()
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/link.js" defer>', '<script src="/static/console-views.js" defer>',
        '<script src="/static/console.js" defer>',
        '<script src="/static/back.js" defer>',
    ]
    assert not re.search(r"<[^>]*\s(style|on[a-z]+)=", html)  # no inline style or handler
    for name in ("console.html", "console.css", "console.js", "console-views.js", "back.js"):
        text = (STATIC / name).read_text()
        assert not re.search(r"https?://", text), name  # nothing from the internet
        assert not re.search(r"\beval\(|new Function|innerHTML", text), name
