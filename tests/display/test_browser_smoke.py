"""The browser infrastructure itself: a tiny aiohttp app on a loopback port, loaded in the
session's Chromium; a click changes a text through JavaScript, a websocket round trip goes
through the app, and the page's screenshot lands in test-artifacts/ when the test ends. And the
browser being up does not stop a later test from running its own asyncio loop."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from playwright.sync_api import Browser, Page, expect

from tests.browser import VIEWPORT, artifact_path, serve_app

HTML = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>smoke</title></head>
<body>
  <p id="text">Waiting</p>
  <button id="go">Press</button>
  <p id="echo"></p>
  <script>
    const ws = new WebSocket(`ws://${location.host}/ws`);
    document.querySelector("#go").addEventListener("click", () => {
      document.querySelector("#text").textContent = "Pressed";
      ws.send("ping from the page");
    });
    ws.addEventListener("message", (event) => {
      document.querySelector("#echo").textContent = event.data;
    });
    ws.addEventListener("open", () => { document.body.dataset.ws = "open"; });
  </script>
</body>
</html>
"""

SOCKETS = web.AppKey("sockets", set[web.WebSocketResponse])
RECEIVED = web.AppKey("received", list[str])


async def _index(request: web.Request) -> web.Response:
    return web.Response(text=HTML, content_type="text/html")


async def _echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                request.app[RECEIVED].append(message.data)
                await ws.send_str(f"echo: {message.data}")
    finally:
        request.app[SOCKETS].discard(ws)
    return ws


async def _close_sockets(app: web.Application) -> None:
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def _app() -> web.Application:
    app = web.Application()
    app[SOCKETS] = set()
    app[RECEIVED] = []
    app.router.add_get("/", _index)
    app.router.add_get("/ws", _echo)
    app.on_shutdown.append(_close_sockets)
    return app


@pytest.fixture
def app() -> web.Application:
    return _app()


@pytest.fixture
def server(app: web.Application) -> Iterator[str]:
    with serve_app(app) as url:
        yield url


@pytest.fixture
def expect_screenshot(request: pytest.FixtureRequest) -> Iterator[Path]:
    """Asked for before `page`, so that its check runs after `page` saved the screenshot."""
    path = artifact_path(request.node)
    path.unlink(missing_ok=True)
    yield path
    assert path.is_file(), f"no screenshot at {path}"
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (VIEWPORT["width"], VIEWPORT["height"])


def test_a_click_changes_the_text_and_a_websocket_echoes(
    expect_screenshot: Path, app: web.Application, server: str, page: Page
) -> None:
    page.goto(server)
    expect(page.locator("body")).to_have_attribute("data-ws", "open")
    expect(page.locator("#text")).to_have_text("Waiting")

    page.click("#go")

    expect(page.locator("#text")).to_have_text("Pressed")
    expect(page.locator("#echo")).to_have_text("echo: ping from the page")
    assert app[RECEIVED] == ["ping from the page"]
    assert page.viewport_size == VIEWPORT


def test_a_thread_runs_its_own_asyncio_loop_between_browser_uses(request: pytest.FixtureRequest) -> None:
    """The session's browser is up, yet asyncio.run works; then the browser still answers."""
    request.getfixturevalue("_browser_session")  # the worker's Chromium, started if it was not yet
    assert asyncio.run(asyncio.sleep(0, result="own loop")) == "own loop"

    browser: Browser = request.getfixturevalue("browser")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content("<p>still here</p>")
        assert page.text_content("p") == "still here"
    finally:
        context.close()
