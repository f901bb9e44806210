"""`/ws`: the visitor screen's websocket, a subscriber of the decision point's events for one lane.

Each connection subscribes to the point (`point.subscribe()`, read as an async iterator)
before it sends the lane's status, so nothing that happens in between is lost; then it sends
the lane's decisions, passage steps and modes as gate.display.messages says, in the language
the page asked for (`/ws?lang=fr`; else the display's default). A subscriber that falls
behind is told `Missed` by the stream: the page then gets the status again and starts over.
It never slows the lane: the stream's queue is bounded, and a slow socket only makes this
connection's queue drop its oldest events.

What a page sends back is allow-listed (gate.display.messages: `ping`, `painted`); anything
else is dropped. Paint reports are logged at DEBUG and the last `PAINTS_KEPT` are kept for the
screen benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import weakref
from collections import deque
from dataclasses import dataclass

from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import ValidationError

from gate.display.messages import (
    INBOUND,
    MAX_MESSAGE,
    Message,
    Painted,
    Ping,
    Timing,
    decision_message,
    mode_message,
    passage_message,
    status_message,
)
from gate.point import DecisionPoint, Subscription
from gate.point.events import DecisionMade, Event, Missed, ModeChanged, PassageStep
from gate.text import LANGUAGES
from gate.text.format import Language

log = logging.getLogger("gate.display")

PAINTS_KEPT = 1000  # paint reports kept in memory (the benchmark reads them)
HEARTBEAT_S = 5.0  # aiohttp's own ping frames: a browser that went away is noticed
CLOSE_TIMEOUT_S = 2.0  # how long a close waits for the page's close frame
SENT_KEPT = 64  # decisions a connection remembers sending, to accept their paint reports
GOING_AWAY = b"going away"


@dataclass(frozen=True, slots=True)
class Paint:
    """A page's report: decision `decision_id` painted `ms` after its message arrived there;
    `queued_ms`: from the decision's event to its message leaving the daemon."""

    decision_id: str
    ms: float
    queued_ms: float
    lane: str


class _Connection:
    """One page's websocket: sends one at a time, remembers which decisions it sent and when."""

    def __init__(self, ws: web.WebSocketResponse, number: int, language: Language) -> None:
        self.ws = ws
        self.number = number
        self.language = language
        self._lock = asyncio.Lock()
        self.sent: dict[str, float] = {}  # decision id -> queued ms, the last SENT_KEPT

    async def send(self, message: Message) -> None:
        async with self._lock:
            await self.ws.send_json(message)

    def sent_decision(self, decision_id: str, queued_ms: float) -> None:
        self.sent[decision_id] = queued_ms
        while len(self.sent) > SENT_KEPT:
            del self.sent[next(iter(self.sent))]


class VisitorFeed:
    """The websocket endpoint of one lane's visitor screen; `close()` ends every connection (1001)."""

    def __init__(self, *, point: DecisionPoint, lane: str, language: Language, paints_kept: int = PAINTS_KEPT) -> None:
        self._point = point
        self.lane = lane
        self.language = language
        config = point.config
        self._tz = config.site.tz
        self._currency = config.site.currency
        self.timing = Timing.of(config)
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._numbers = itertools.count(1)
        self._loop = asyncio.get_running_loop()
        self.paints: deque[Paint] = deque(maxlen=paints_kept)
        self._closing = False

    @property
    def connections(self) -> int:
        return len(self._sockets)

    def status(self, language: Language) -> Message:
        return status_message(self._point.status(self.lane), self._point.config, language=language)

    def _language(self, asked: str | None) -> Language:
        for language in LANGUAGES:
            if asked == language:
                return language
        return self.language

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ws: the page's websocket (the app has checked its Origin)."""
        if self._closing:
            raise web.HTTPServiceUnavailable(text="the lane is stopping")
        ws = web.WebSocketResponse(
            heartbeat=HEARTBEAT_S, timeout=CLOSE_TIMEOUT_S, compress=False, max_msg_size=MAX_MESSAGE
        )
        await ws.prepare(request)
        connection = _Connection(ws, next(self._numbers), self._language(request.query.get("lang")))
        self._sockets.add(ws)
        log.info("display %s: screen %d connected (%s)", self.lane, connection.number, connection.language)
        try:
            if self._closing:  # the daemon began to stop while this one connected
                return ws
            async with self._point.subscribe() as events:
                # Subscribed first, so whatever happens after the status reaches the page.
                await connection.send(self.status(connection.language))
                pump = asyncio.create_task(self._pump(events, connection), name=f"display-{connection.number}")
                try:
                    await self._listen(connection)
                finally:
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pump
        except ConnectionError:
            pass  # the page went away mid-send
        finally:
            self._sockets.discard(ws)
            if not ws.closed:
                await ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY)
            log.info("display %s: screen %d disconnected (%s)", self.lane, connection.number, ws.close_code)
        return ws

    async def _pump(self, events: Subscription, connection: _Connection) -> None:
        """The lane's events to the page, until the stream or the socket ends."""
        try:
            async for event in events:
                message = self._message(event, connection)
                if message is not None:
                    await connection.send(message)
        except ConnectionError:
            return  # the socket is closing: the listener ends with it
        except Exception:
            log.exception("display %s: screen %d: cannot send an event", self.lane, connection.number)
        # The point stopped (its stream ended), or something failed: the page shows out of order.
        await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY)

    def _message(self, event: Event, connection: _Connection) -> Message | None:
        if isinstance(event, Missed):
            return self.status(connection.language)  # what was missed may have ended a result
        if event.lane != self.lane:
            return None  # another lane of the point (the demo serves two)
        if isinstance(event, DecisionMade):
            message = decision_message(event, language=connection.language, tz=self._tz, currency=self._currency,
                                       timing=self.timing)  # fmt: skip
            if event.decision_id is not None:
                connection.sent_decision(event.decision_id, (self._loop.time() - event.monotonic) * 1000)
            return message
        if isinstance(event, PassageStep):
            return passage_message(event)
        if isinstance(event, ModeChanged):
            return mode_message(self._point.status(self.lane))
        return None

    async def _listen(self, connection: _Connection) -> None:
        async for msg in connection.ws:
            if msg.type is WSMsgType.ERROR:
                break  # too long a message (aiohttp closes with 1009), or a broken frame
            if msg.type is not WSMsgType.TEXT:
                continue
            try:
                inbound = INBOUND.validate_json(msg.data)
            except ValidationError:
                log.debug("display %s: screen %d: a message dropped (not allowed)", self.lane, connection.number)
                continue
            if isinstance(inbound, Ping):
                await connection.send({"type": "pong"})
            elif isinstance(inbound, Painted):
                self._painted(inbound, connection)

    def _painted(self, report: Painted, connection: _Connection) -> None:
        queued = connection.sent.pop(report.decision_id, None)
        if queued is None:
            return  # not a decision this connection was sent (or reported twice)
        self.paints.append(Paint(report.decision_id, report.ms, queued, self.lane))
        log.debug("display %s: decision %s painted %.1f ms after its message (queued %.1f ms)",
                  self.lane, report.decision_id, report.ms, queued)  # fmt: skip

    async def close(self) -> None:
        """Refuse new connections and close the open ones with 1001 (going away), at once."""
        self._closing = True
        sockets = [ws for ws in self._sockets if not ws.closed]
        if sockets:
            await asyncio.gather(
                *(ws.close(code=WSCloseCode.GOING_AWAY, message=GOING_AWAY) for ws in sockets), return_exceptions=True
            )
