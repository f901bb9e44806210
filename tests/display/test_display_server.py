"""The screens served by a real `gate run` process (mock pins, a pty scanner), without a browser:
the page and its headers, the websocket's messages from a scan to the end of its passage, the
Origin check, the heartbeat's answer, and the close (1001) when the daemon stops."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from typing import Any

import aiohttp
import pytest

from gate.config import ConfigError, load_config
from gate.daemon.control import request
from gate.daemon.run import run_daemon
from tests.daemon.conftest import DaemonProcess, Start, Venue, wait_ready
from tests.display.screens import free_port


async def next_message(ws: aiohttp.ClientWebSocketResponse, kind: str, **fields: Any) -> dict[str, Any]:
    """The next message of type `kind` (with `fields`), past the others (passage steps, modes)."""
    async with asyncio.timeout(10):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                return message


def test_the_daemon_serves_the_visitor_screen_and_its_websocket(venue: Venue, start_daemon: Start) -> None:
    port = free_port()
    venue.write_config(display={"enabled": True, "port": port})
    daemon = start_daemon()
    status = wait_ready(daemon)
    url = f"http://127.0.0.1:{port}"
    assert status["daemon"]["display"] == f"{url}/"
    asyncio.run(_visitor_screen(venue, daemon, url))
    assert daemon.process.wait(15) == 0
    assert f"display {url}/" in daemon.log  # the READY line says where the screens are
    assert "Marie" not in daemon.log  # logs name ids and reason codes, never a holder


async def _visitor_screen(venue: Venue, daemon: DaemonProcess, url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/") as page:
            assert page.status == 200 and page.content_type == "text/html"
            headers = page.headers
            html = await page.text()
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert f"connect-src 'self' ws://127.0.0.1:{url.rsplit(':', 1)[1]}" in csp and "unsafe" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
        assert '<script src="/static/visitor.js" defer></script>' in html and "<script>" not in html
        for name, kind in (("visitor.js", "text/javascript"), ("visitor.css", "text/css")):
            async with session.get(f"{url}/static/{name}") as file:
                assert (file.status, file.content_type) == (200, kind)
                assert "Content-Security-Policy" in file.headers

        # A page of another site open in the browser may not read the lane.
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{url}/ws", origin="http://evil.example")
        assert refused.value.status == 403

        async with session.ws_connect(f"{url}/ws?lang=en", origin=url) as ws:
            hello = await ws.receive_json(timeout=5)
            assert {k: hello[k] for k in ("type", "lane", "zone", "kind", "directions", "mode", "screen")} == {
                "type": "status", "lane": "l1", "zone": "Main", "kind": "turnstile", "directions": ["entry"],
                "mode": "normal", "screen": "normal",
            }  # fmt: skip
            assert hello["words"]["scan"] == "Scan your ticket or membership"
            await ws.send_json({"type": "ping"})
            assert await next_message(ws, "pong") == {"type": "pong"}

            venue.scan("ONE")
            decision = await next_message(ws, "decision")
            assert {k: decision[k] for k in ("verdict", "reason", "word", "text", "holder", "admitted")} == {
                "verdict": "admit", "reason": "ok", "word": "Enter", "text": "Welcome, Marie D.", "holder": "Marie D.",
                "admitted": 1,
            }  # fmt: skip
            assert decision["display"]["until"] == "passage" and decision["redemption"] == decision["decision_id"]
            assert "Dupont" not in json.dumps(decision)  # the masked name only
            await ws.send_json({"type": "painted", "decision_id": decision["decision_id"], "ms": 8.5})

            assert (await asyncio.to_thread(request, venue.socket, {"op": "sim_passage"}))["ok"]
            ended = await next_message(ws, "passage", done=True)
            assert (ended["step"], ended["redemption"], ended["passed"]) == ("committed", decision["redemption"], 1)

            # The daemon stops: the page is told at once (1001, going away), not left on its last result.
            daemon.process.send_signal(signal.SIGTERM)
            closing = await ws.receive(timeout=10)
            assert closing.type is aiohttp.WSMsgType.CLOSE and ws.close_code == 1001


def test_a_display_port_in_use_is_one_line_not_a_traceback(venue: Venue) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        venue.write_config(display={"enabled": True, "port": port})
        with pytest.raises(ConfigError) as refused:
            run_daemon(load_config(venue.config, daemon=True), "l1", source="gate.toml")
    assert refused.value.problems == [f"display.port: cannot listen on 127.0.0.1:{port}: Address already in use"]
