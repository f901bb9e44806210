"""`/ws`: every screen's websocket, a subscriber of the decision point's events.

`/ws?screen=visitor|kiosk|console&lane=L&lang=fr`: the feed checks the screen and the lane,
subscribes to the point (`point.subscribe()`, read as an async iterator) before the screen
sends its first message, so nothing that happens in between is lost, then hands every event
and every page message to the connection's `Screen` (gate.display.screen). It answers `ping`
itself (the page's heartbeat). A subscriber that falls behind is told `Missed` by the stream.
It never slows the lane: the stream's queue is bounded, and a slow socket only makes this
connection's queue drop its oldest events.

A page message that is not JSON, not allowed for its screen, or longer than `MAX_MESSAGE`
is dropped (the longer one closes the socket, 1009); one with an `id` is answered with why.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import weakref
from collections.abc import Mapping

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from gate.display.messages import MAX_MESSAGE
from gate.display.screen import Context, Page, Screen
from gate.point import Subscription
from gate.text import LANGUAGES
from gate.text.format import Language

log = logging.getLogger("gate.display")

HEARTBEAT_S = 5.0  # aiohttp's own ping frames: a browser that went away is noticed
CLOSE_TIMEOUT_S = 2.0  # how long a close waits for the page's close frame
GOING_AWAY = b"going away"


class Feed:
    """The websocket endpoint of a display's screens; `close()` ends every connection (1001)."""

    def __init__(self, context: Context, screens: Mapping[str, type[Screen]], lanes: Mapping[str, str]) -> None:
        """`screens` by name; `lanes`: each screen's default lane (its pages may name another of the point's)."""
        self.context = context
        self._screens = screens
        self._lanes = lanes
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._numbers = itertools.count(1)
        self._closing = False

    @property
    def connections(self) -> int:
        return len(self._sockets)

    def _language(self, asked: str | None) -> Language:
        for language in LANGUAGES:
            if asked == language:
                return language
        return self.context.language

    def _kind(self, request: web.Request) -> tuple[type[Screen], str]:
        name = request.query.get("screen", "visitor")
        kind = self._screens.get(name)
        if kind is None:
            raise web.HTTPNotFound(text=f"no {name!r} screen here")
        lane = request.query.get("lane") or self._lanes.get(name)
        if lane is None or lane not in self.context.point.lane_ids:
            raise web.HTTPNotFound(text=f"no lane {lane!r} for the {name} screen")
        return kind, lane

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ws: a page's websocket (the app has checked its Origin)."""
        if self._closing:
            raise web.HTTPServiceUnavailable(text="the lane is stopping")
        kind, lane = self._kind(request)
        ws = web.WebSocketResponse(
            heartbeat=HEARTBEAT_S, timeout=CLOSE_TIMEOUT_S, compress=False, max_msg_size=MAX_MESSAGE
        )
        await ws.prepare(request)
        page = Page(ws, next(self._numbers), lane, self._language(request.query.get("lang")))
        screen = kind(self.context, page)
        self._sockets.add(ws)
        log.info("display %s: %s screen %d connected (%s)", lane, kind.name, page.number, page.language)
        try:
            if self._closing:  # the daemon began to stop while this one connected
                return ws
            async with self.context.point.subscribe() as events:
                # Subscribed first, so whatever happens after the first message reaches the page.
                await screen.opened()
                tasks = [asyncio.create_task(self._pump(events, screen), name=f"display-{page.number}")]
                if kind.tick_s is not None:
                    ticks = self._ticks(screen, kind.tick_s)
                    tasks.append(asyncio.create_task(ticks, name=f"display-{page.number}-tick"))
                try:
                    await self._listen(screen)
                finally:
                    for task in tasks:
                        task.cancel()
                    for task in tasks:
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    await screen.closed()
        except ConnectionError:
            pass  # the page went away mid-send
        finally:
            self._sockets.discard(ws)
            if not ws.closed:
                await ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY)
            log.info("display %s: %s screen %d disconnected (%s)", lane, kind.name, page.number, ws.close_code)
        return ws

    async def _pump(self, events: Subscription, screen: Screen) -> None:
        """The point's events to the screen, until the stream or the socket ends."""
        try:
            async for event in events:
                await screen.event(event)
        except ConnectionError:
            return  # the socket is closing: the listener ends with it
        except Exception:
            log.exception("display %s: screen %d: cannot send an event", screen.lane, screen.page.number)
        # The point stopped (its stream ended), or something failed: the page shows out of order.
        await screen.page.ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY)

    async def _ticks(self, screen: Screen, every: float) -> None:
        try:
            while True:
                await asyncio.sleep(every)
                await screen.tick()
        except ConnectionError:
            return
        except Exception:
            log.exception("display %s: screen %d: its timer failed", screen.lane, screen.page.number)
            await screen.page.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"timer failed")

    async def _listen(self, screen: Screen) -> None:
        page = screen.page
        async for msg in page.ws:
            if msg.type is WSMsgType.ERROR:
                break  # too long a message (aiohttp closes with 1009), or a broken frame
            if msg.type is not WSMsgType.TEXT:
                continue
            try:
                raw = json.loads(msg.data)
            except ValueError:
                log.debug("display %s: screen %d: a message dropped (not JSON)", page.lane, page.number)
                continue
            if isinstance(raw, dict) and raw.get("type") == "ping" and len(raw) == 1:
                await page.send({"type": "pong"})
                continue
            try:
                message = screen.inbound.validate_python(raw)
            except ValidationError as exc:
                log.debug("display %s: screen %d: a message dropped (not allowed)", page.lane, page.number)
                asked = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(asked, int) and not isinstance(asked, bool):
                    error = exc.errors()[0]
                    where = ".".join(str(part) for part in error["loc"]) or "message"
                    await page.send({"type": "answer", "id": asked, "ok": False, "error": f"{where}: {error['msg']}"})
                continue
            await screen.received(message)

    async def close(self) -> None:
        """Refuse new connections and close the open ones with 1001 (going away), at once."""
        self._closing = True
        sockets = [ws for ws in self._sockets if not ws.closed]
        if sockets:
            await asyncio.gather(
                *(ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY) for ws in sockets), return_exceptions=True
            )
