"""Browser tests: Debian's Chromium driven by Playwright's sync API.

A plain module, not a conftest, so that any test folder can use it; tests/display/conftest.py
imports its fixtures. The fixtures:

- `browser`: ONE Chromium per test session (per xdist worker), launched headless from
  /usr/bin/chromium (`executable_path`; Playwright never downloads a browser here). If it is
  missing or does not start, the test fails, naming the cause: it is never skipped.
- `page`: a new context per test at 1024x600; when the test ends, pass or fail, a screenshot goes
  to test-artifacts/<module>__<test>.png (git-ignored), see `artifact_path`.

And `serve_app`, which serves an aiohttp app on a free loopback port from a thread of its own.

Playwright's sync API and asyncio: between two sync calls Playwright leaves its own event loop
marked as the thread's running loop, so an `asyncio.run()` in the same thread would refuse to
start ("cannot be called from a running event loop"). The browser lives for the whole session,
so the marker is set only while a test that asked for `browser` or `page` runs, and cleared when
it ends: the other tests of the worker run their own loops as before. Inside a browser test, run
servers and daemons in a thread (`serve_app`) or a process, never on the test's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORT = {"width": 1024, "height": 600}
# As root in CI, without a GPU, on a machine whose network is closed: no sandbox (it needs an
# unprivileged user), and none of Chromium's background connections (refused here, many at a time).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # as the kiosk launch (docs/install.md): sounds play untouched
]


def artifact_path(node: pytest.Item, suffix: str = ".png") -> Path:
    """Where a test's artefact goes: test-artifacts/<module>__<test name with its parameters><suffix>."""
    module = Path(str(node.path)).stem if hasattr(node, "path") else "test"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{module}__{node.name}").strip("-")
    return ARTIFACTS / f"{name}{suffix}"


class _Session:
    """The worker's Playwright, its Chromium, and the event loop the sync API runs them on."""

    def __init__(self) -> None:
        self.launch_seconds = 0.0
        if shutil.which(str(CHROMIUM)) is None:
            pytest.fail(
                f"{CHROMIUM} is missing: the browser tests drive Debian's chromium package; "
                "run scripts/setup --dev (never `playwright install`)",
                pytrace=False,
            )
        started = time.perf_counter()
        self._playwright = sync_playwright().start()
        self.loop = asyncio.get_running_loop()  # Playwright's own, marked running by the sync API
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
            )
        except PlaywrightError as error:
            self._playwright.stop()
            asyncio.events._set_running_loop(None)
            pytest.fail(
                f"{CHROMIUM} did not start under Playwright: {error.message}\n"
                "Check `scripts/check-chromium` (Debian's Chromium against the one Playwright expects).",
                pytrace=False,
            )
        self.launch_seconds = time.perf_counter() - started

    def enter(self) -> None:
        """Mark Playwright's loop as the thread's running loop, as the sync API expects between calls."""
        asyncio.events._set_running_loop(self.loop)

    def leave(self) -> None:
        """Let the thread run loops of its own again (asyncio.run) until the next browser test."""
        asyncio.events._set_running_loop(None)

    def close(self) -> None:
        self.enter()
        try:
            with contextlib.suppress(PlaywrightError):
                self.browser.close()
        finally:
            self._playwright.stop()
            self.leave()


@pytest.fixture(scope="session")
def _browser_session() -> Iterator[_Session]:
    """Started on the first browser test of the worker; stopped when the session ends."""
    session = _Session()
    session.leave()
    yield session
    session.close()


@pytest.fixture
def browser(_browser_session: _Session) -> Iterator[Browser]:
    """The session's one Chromium (Playwright's sync API), for the length of one test."""
    _browser_session.enter()
    try:
        yield _browser_session.browser
    finally:
        _browser_session.leave()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context at 1024x600; its screenshot is saved when the test ends."""
    context = browser.new_context(viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]})
    try:
        page = context.new_page()
        yield page
        path = artifact_path(request.node)
        path.parent.mkdir(exist_ok=True)
        try:
            page.screenshot(path=path)
        except PlaywrightError as error:
            warnings.warn(f"no screenshot for {request.node.nodeid}: {error.message}", stacklevel=1)
    finally:
        context.close()


@contextlib.contextmanager
def serve_app(app: web.Application, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free port of `host` from a thread with its own event loop; yields the base URL.

    On the way out the app shuts down (its on_shutdown hooks close websockets) and the thread ends.
    """
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=5.0)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        address = runner.addresses[0]
        return f"http://{address[0]}:{address[1]}"

    thread = threading.Thread(target=loop.run_forever, name="serve_app", daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=30)
        try:
            yield url
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on `page` as it is now, in the same Chromium
    (axe-playwright-python ships axe itself: nothing downloads): id, impact, the nodes."""
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415 - only the screens' tests run axe

    violations: list[dict[str, Any]] = Axe().run(page).response["violations"]
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
