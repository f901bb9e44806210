"""`DisplayServer`: the screens served inside the daemon's own loop, as an async context manager.

aiohttp's documented order for an app inside a program that owns its loop and signals
(not `web.run_app`, which wants to own them): `AppRunner.setup()`, a `TCPSite` started on
it, and at the end `AppRunner.cleanup()`. Before the cleanup every open websocket is closed
with 1001 (going away), so a stop never waits out a shutdown timeout on an idle screen, and
the page shows "out of order" at once instead of a result that is no longer true.

    async with DisplayServer(point=point, lane="l1", controls={"l1": daemon}, port=8080) as display:
        display.url  # http://127.0.0.1:8080/

`controls` are the daemon's own login and commands (gate.display.screen.Controls), by lane:
a lane without them has screens that only watch (no kiosk session, no console acts).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

from aiohttp import web

from gate.display.app import STATIC, allowed_hosts, build_app
from gate.display.console import ConsoleScreen
from gate.display.demo import DemoScreen
from gate.display.feed import Feed
from gate.display.kiosk import KioskScreen
from gate.display.messages import Timing
from gate.display.screen import Context, Controls, DemoHooks, Paint, Screen
from gate.display.visitor import VisitorScreen
from gate.errors import GateError
from gate.point import DecisionPoint
from gate.text.format import Language

log = logging.getLogger("gate.display")

SHUTDOWN_S = 2.0  # what aiohttp's cleanup waits for handlers still running after the sockets closed


class DisplayError(GateError, OSError):
    """The display cannot listen where the config says (the port in use, an address not here)."""


# Every screen there is; a page for one is served when its file ships in static/.
SCREENS: dict[str, type[Screen]] = {"visitor": VisitorScreen, "kiosk": KioskScreen, "console": ConsoleScreen}


class DisplayServer:
    """Serves the screens of `lane` on `host`:`port` (0: any free port; see `port`).

    `demo`: the demo page too, whose code panel "scans" a code by a click (never in a daemon).
    """

    def __init__(
        self, *, point: DecisionPoint, lane: str, controls: Mapping[str, Controls] | None = None,
        host: str = "127.0.0.1", port: int = 8080, language: Language | None = None, demo: DemoHooks | None = None,
        on_paint: Callable[[Paint], None] | None = None,
    ) -> None:  # fmt: skip
        self._point = point
        self.lane = lane
        self._controls = dict(controls or {})
        self.host = host
        self._asked_port = port
        self._language: Language = language or point.config.engine.language
        self._demo = demo
        self._on_paint = on_paint  # each paint report, as it arrives (the daemon's metrics)
        self._runner: web.AppRunner | None = None
        self._feed: Feed | None = None
        self._context: Context | None = None
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
        return tuple(self._context.paints) if self._context is not None else ()

    @property
    def connections(self) -> int:
        return self._feed.connections if self._feed is not None else 0

    async def __aenter__(self) -> Self:
        point = self._point
        context = Context(point=point, config=point.config, language=self._language, controls=self._controls,
                          demo=self._demo, timing=Timing.of(point.config), on_paint=self._on_paint)  # fmt: skip
        screens = {name: kind for name, kind in SCREENS.items() if (STATIC / f"{name}.html").is_file()}
        lanes = self._default_lanes()
        feed = Feed(context, screens, lanes)
        if self._demo is not None:
            screens["demo"] = DemoScreen
        pages = list(screens)
        kiosk = point.is_kiosk(self.lane) and "kiosk" in screens
        home = "demo" if self._demo is not None else ("kiosk" if kiosk else "visitor")
        hosts: set[str] = set()
        runner = web.AppRunner(build_app(feed, hosts, home=home, pages=pages), handle_signals=False, access_log=None,
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
        self._runner, self._feed, self._context = runner, feed, context
        log.info("display %s: serving %s (%s screen, %s)", self.lane, self.url, home, self._language)
        return self

    def _default_lanes(self) -> dict[str, str]:
        """Each screen's lane when its page names none: the display's, or the point's first kiosk."""
        point = self._point
        kiosks = [lane for lane in point.lane_ids if point.is_kiosk(lane)]
        lanes = {"visitor": self.lane, "console": self.lane, "demo": self.lane}
        if point.is_kiosk(self.lane) or kiosks:
            lanes["kiosk"] = self.lane if point.is_kiosk(self.lane) else kiosks[0]
        return lanes

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
