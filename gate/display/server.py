"""`DisplayServer`: the screens served inside the daemon's own loop, as an async context manager.

aiohttp's documented order for an app inside a program that owns its loop and signals
(not `web.run_app`, which wants to own them): `AppRunner.setup()`, a `TCPSite` started on
it, and at the end `AppRunner.cleanup()`. Before the cleanup every open websocket is closed
with 1001 (going away), so a stop never waits out a shutdown timeout on an idle screen, and
the page shows "out of order" at once instead of a result that is no longer true.

    async with DisplayServer(point=point, lane="l1", port=8080) as display:
        display.url  # http://127.0.0.1:8080/
"""

from __future__ import annotations

import logging
import os
from types import TracebackType
from typing import Self

from aiohttp import web

from gate.display.app import allowed_hosts, build_app
from gate.display.feed import Paint, VisitorFeed
from gate.errors import GateError
from gate.point import DecisionPoint
from gate.text.format import Language

log = logging.getLogger("gate.display")

SHUTDOWN_S = 2.0  # what aiohttp's cleanup waits for handlers still running after the sockets closed


class DisplayError(GateError, OSError):
    """The display cannot listen where the config says (the port in use, an address not here)."""


class DisplayServer:
    """Serves the visitor screen of `lane` on `host`:`port` (0: any free port; see `port`)."""

    def __init__(
        self, *, point: DecisionPoint, lane: str, host: str = "127.0.0.1", port: int = 8080,
        language: Language | None = None,
    ) -> None:  # fmt: skip
        self._point = point
        self.lane = lane
        self.host = host
        self._asked_port = port
        self._language: Language = language or point.config.engine.language
        self._runner: web.AppRunner | None = None
        self._feed: VisitorFeed | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one bound, when it was asked for port 0)."""
        if self._port is None:
            raise RuntimeError("the display is not serving")
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def paints(self) -> tuple[Paint, ...]:
        """The pages' latest paint reports, oldest first."""
        return tuple(self._feed.paints) if self._feed is not None else ()

    @property
    def connections(self) -> int:
        return self._feed.connections if self._feed is not None else 0

    async def __aenter__(self) -> Self:
        feed = VisitorFeed(point=self._point, lane=self.lane, language=self._language)
        hosts: set[str] = set()
        runner = web.AppRunner(build_app(feed, hosts), handle_signals=False, access_log=None,
                               shutdown_timeout=SHUTDOWN_S)  # fmt: skip
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._asked_port, reuse_address=True)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            why = os.strerror(exc.errno) if exc.errno else str(exc)  # asyncio's text repeats the address
            raise DisplayError(f"cannot listen on {self.host}:{self._asked_port}: {why}") from exc
        except BaseException:
            await runner.cleanup()
            raise
        self._port = int(runner.addresses[0][1])
        hosts.update(allowed_hosts(self.host, self._port))
        self._runner, self._feed = runner, feed
        log.info("display %s: serving %s (visitor screen, %s)", self.lane, self.url, self._language)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        runner, feed = self._runner, self._feed
        self._runner = None
        if feed is not None:
            await feed.close()  # 1001 to every page first: none waits for a timeout
        if runner is not None:
            await runner.cleanup()
        log.info("display %s: stopped", self.lane)
