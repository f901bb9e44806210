"""The visitor screen's feed in process: its messages, what it accepts from a page, the app's guards,
the page's colours and the [display] section. A real ledger, decision point and turnstile on mock
pins (tests/lane/conftest.py), and aiohttp's client on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gate.config import ConfigError, parse_config
from gate.decision import Decision
from gate.display import DisplayServer
from gate.display.app import STATIC
from gate.display.messages import Timing, decision_message
from gate.point import LaneMode
from gate.point.events import DecisionMade
from gate.reasons import Reason, Verdict
from gate.text import render
from tests.configs import config_text
from tests.lane.conftest import NOON, PARIS, Rig, RunningLane, make_rig, read


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def test_a_refusal_is_the_visitor_text_in_the_language_asked_for_a_few_seconds() -> None:
    decision = Decision(
        Verdict.DENY, Reason.NOT_YET_VALID, {"valid_from": NOON + dt.timedelta(hours=2)}, holder="Marie D.",
        entitlement_id="t-1",
    )  # fmt: skip
    event = DecisionMade(lane="l1", monotonic=1.0, at=NOON, direction="entry", decision=decision, decision_id="d-1",
                         redemption=None, reference="ONE")  # fmt: skip
    message = decision_message(event, language="fr", tz=PARIS, currency="EUR", timing=Timing(passage_s=8.0))
    visitor = render(decision, audience="visitor", language="fr", tz=PARIS, now=NOON)
    assert visitor == "Valable à partir de 14:00"
    assert visitor != render(decision, audience="staff", language="fr", tz=PARIS, now=NOON)
    texts = message.pop("texts")
    assert message == {
        "type": "decision", "decision_id": "d-1", "verdict": "deny", "reason": "not_yet_valid", "word": "Stop",
        "text": visitor, "holder": "Marie D.", "admitted": 0, "balance": None, "direction": "entry",
        "redemption": None, "language": "fr", "display": {"until": "time", "ms": 5000},
    }  # fmt: skip
    # Every language of the screen, so a touch on the switch repaints it at once.
    assert texts == {
        "fr": {"word": "Stop", "text": visitor, "details": ["Marie D."]},
        "en": {"word": "Stop", "text": "Valid from 14:00", "details": ["Marie D."]},
        "de": {"word": "Stopp", "text": "Gültig ab 14:00", "details": ["Marie D."]},
    }


@asynccontextmanager
async def _served(lane: RunningLane, **options: Any) -> AsyncIterator[tuple[DisplayServer, aiohttp.ClientSession]]:
    display = DisplayServer(point=lane.point, lane=lane.id, port=0, **options)
    async with display, aiohttp.ClientSession() as session:
        yield display, session


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind:
                return message


def test_the_feed_speaks_the_page_language_and_keeps_its_paint_reports(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane, _served(lane, language="de") as (display, session):
            origin = display.url.rstrip("/")
            async with session.ws_connect(f"{display.url}ws", origin=origin) as ws:
                assert (await _next(ws, "status"))["language"] == "de"  # the display's default
            async with session.ws_connect(f"{display.url}ws?lang=fr", origin=origin) as ws:
                status = await _next(ws, "status")
                assert (status["language"], status["words"]["out_of_order"]) == (
                    "fr", "Hors service — veuillez utiliser un autre couloir"
                )  # fmt: skip
                await lane.handle(read("NOPE"))
                refused = await _next(ws, "decision")
                assert (refused["verdict"], refused["text"]) == ("deny", "Code inconnu — adressez-vous à l'accueil")

                # Only `ping` and `painted` are heard; anything else is dropped, the socket stays.
                for junk in ('{"type": "mode", "mode": "free"}', "not json", '{"type": "painted", "ms": -1}',
                             '{"type": "painted", "decision_id": "nope", "ms": 3}'):  # fmt: skip
                    await ws.send_str(junk)
                await ws.send_bytes(b"\x00")
                await ws.send_json({"type": "painted", "decision_id": refused["decision_id"], "ms": 12.5})
                await ws.send_json({"type": "ping"})
                assert await _next(ws, "pong") == {"type": "pong"}
                assert [(p.decision_id, p.ms) for p in display.paints] == [(refused["decision_id"], 12.5)]

                # Staff lock the lane: a visitor sees it closed, never staff's reason.
                await lane.set_mode(LaneMode.LOCKED, reason="cleaning the floor", staff="s-1")
                mode = await _next(ws, "mode")
                assert mode == {"type": "mode", "mode": "locked", "cause": "staff", "screen": "closed"}

                # A message longer than a page ever sends closes the socket (1009), not the lane.
                await ws.send_str("x" * 5000)
                closed = await ws.receive(timeout=5)
                assert closed.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1009

    with caplog.at_level(logging.DEBUG, logger="gate.display"):
        asyncio.run(scenario())
    painted = [r.getMessage() for r in caplog.records if "painted" in r.getMessage()]
    assert len(painted) == 1 and "12.5 ms" in painted[0]


def test_the_app_answers_its_own_host_and_origin_only(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane, _served(lane) as (display, session):
            url, port = display.url, display.port
            for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
                async with session.get(url, headers={"Host": host}) as ok:
                    assert ok.status == 200
            # A DNS-rebinding page reaches the loopback port under another name: refused.
            async with session.get(url, headers={"Host": f"evil.example:{port}"}) as rebound:
                assert rebound.status == 403
                assert "evil" not in rebound.headers["Content-Security-Policy"]
            async with session.post(url) as post, session.get(f"{url}static/..%2Fserver.py") as escape:
                assert (post.status, escape.status) == (405, 404)
            async with session.get(f"{url}static/start.js") as start:
                assert start.status == 200 and start.headers["X-Content-Type-Options"] == "nosniff"
            for origin in (None, "http://evil.example", f"http://localhost:{port}"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(f"{url}ws", origin=origin)
                assert refused.value.status == 403, origin
            assert display.connections == 0

    asyncio.run(scenario())


def test_an_admit_waits_for_its_passage_and_the_page_is_told_when_it_ends(rig: Rig) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with rig.lane() as lane, _served(lane) as (display, session):
            ws = await session.ws_connect(f"{display.url}ws", origin=display.url.rstrip("/"))
            await _next(ws, "status")
            await lane.handle(read("TRIO"))
            admit = await _next(ws, "decision")
            await lane.settle()  # nobody passes: the passage times out and is released
            while not (step := await _next(ws, "passage"))["done"]:
                pass
            await ws.close()
            return admit, step

    admit, step = asyncio.run(scenario())
    assert (admit["verdict"], admit["admitted"], admit["word"]) == ("admit", 3, "Enter")
    # Each person's time (the accessible one: the longer) and a companion's, then the linger.
    assert admit["display"] == {"until": "passage", "ms": round((0.5 * 4 + 1.5) * 1000), "linger_ms": 1500}
    assert (step["step"], step["redemption"], step["passed"]) == ("released", admit["redemption"], 0)


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_every_colour_pair_of_the_page_passes_wcag_aa() -> None:
    css = (STATIC / "visitor.css").read_text()
    colours = dict(re.findall(r"--([a-z]+-[bf]g):\s*(#[0-9a-f]{6});", css))
    pairs = {name.removesuffix("-bg") for name in colours if name.endswith("-bg")}
    assert pairs == {"idle", "admit", "deny", "attention", "notice", "bar", "button"}
    for name in pairs:
        light, dark = sorted((_luminance(colours[f"{name}-bg"]), _luminance(colours[f"{name}-fg"])), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, name


def test_the_pages_have_no_inline_script_and_no_outside_resource() -> None:
    pages = sorted(STATIC.glob("*.html"))
    assert {"visitor.html", "start.html"} <= {p.name for p in pages}
    for page in pages:
        html = page.read_text()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
        assert scripts, page.name
        for attributes, body in scripts:
            source = re.fullmatch(r' src="(?:/static/)?([a-z_-]+\.js)" defer', attributes)
            assert source and (STATIC / source.group(1)).is_file() and not body.strip(), (page.name, attributes)
        assert not re.search(r"<[^>]*\s(style|on[a-z]+)=", html), page.name  # no inline style or handler
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://(?!127\.0\.0\.1)", text), path.name  # no CDN, no web font


def test_the_display_section() -> None:
    display = parse_config(config_text()).display
    assert (display.enabled, display.host, display.port, display.language) == (False, "127.0.0.1", 8080, None)
    assert parse_config(config_text(display={"host": "::1", "port": 0, "language": "de"})).display.port == 0
    with pytest.raises(ConfigError) as bad:
        parse_config(config_text(display={"host": "http://x", "port": 70000, "enabled": "yes", "colour": 1}))
    assert bad.value.problems == [
        "display.enabled: Input should be a valid boolean, got text 'yes'",
        "display.host: not an IP address or host name: 'http://x' (e.g. 127.0.0.1, localhost)",
        "display.port: Input should be less than or equal to 65535",
        "display.colour: unknown key",
    ]
