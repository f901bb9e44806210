"""Redemptions up: the journal's rows published until the hub confirms them, never twice counted.

The lanes write their journal; this process notices new rows by SQLite's `data_version`
(checked every `[sync] poll_ms`), and publishes the rows not confirmed yet, in seq order,
`[sync] batch` at a time, QoS 1. A row stays in the outbox until the hub's retained
high-water mark for this (device, incarnation) covers it (`confirm`): a broker's PUBACK is
not durability (a broker killed with -9 loses what it acknowledged). So:

- on every new connection everything unconfirmed is sent again (from the floor);
- rows the hub has not confirmed `[sync] confirm_timeout_s` after they were sent are sent
  again, connection or not;
- a mark for another incarnation (a restored ledger's old one) is ignored.

The hub stores each (device, incarnation, seq) once, so sending again never counts twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiomqtt

from gate.cache.outbox import Outbox
from gate.cache.redemptions import JournalEntry
from gate.config_sync import SyncConfig
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import Confirmed, Event, Events, PayloadError, dump, parse
from gate.sync.topics import Topics

log = logging.getLogger("gate.sync")

_T = TypeVar("_T")
Run = Callable[[Callable[[], _T]], Awaitable[_T]]


def event_of(entry: JournalEntry) -> Event:
    return Event(
        seq=entry.seq, id=entry.id, at=entry.at.timestamp(), type=entry.type, lane=entry.lane,
        entitlement_id=entry.entitlement_id, redemption_id=entry.redemption_id, reason=entry.reason,
        body=dict(entry.body),
    )  # fmt: skip


class Publisher:
    """The outbox of one ledger, published on one link (`watch` runs until cancelled)."""

    def __init__(
        self, *, outbox: Outbox, run: Run[object], link: Link, topics: Topics, device: str, incarnation: str,
        settings: SyncConfig,
    ) -> None:  # fmt: skip
        self._outbox = outbox
        self._run = run
        self._link = link
        self._topics = topics
        self.device = device
        self.incarnation = incarnation
        self._settings = settings
        self.floor = 0  # every row up to it confirmed
        self.sent_through = 0  # the newest row sent on this connection
        self._sent_at: float | None = None  # loop time of the oldest send not confirmed yet
        self._wake = asyncio.Event()
        self.sent = 0  # rows published since the start (a row sent again counts again)

    async def _ledger(self, call: Callable[[], _T]) -> _T:
        return await self._run(call)  # type: ignore[return-value]

    async def start(self) -> None:
        self.floor = await self._ledger(self._outbox.floor)
        self.sent_through = self.floor

    async def connected(self) -> None:
        """A new connection: what was sent before may be lost with the old one, so from the floor."""
        self.sent_through = self.floor
        self._sent_at = None
        self._wake.set()

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        every = self._settings.poll_ms / 1000
        version = None
        while True:
            now_version = await self._ledger(self._outbox.data_version)
            if now_version != version or self._wake.is_set():
                version = now_version
                self._wake.clear()
                await self._send_new()
            if self._sent_at is not None and loop.time() - self._sent_at >= self._settings.confirm_timeout_s:
                log.info("sync %s: rows %d-%d not confirmed in %.0f s: sent again", self.device, self.floor + 1,
                         self.sent_through, self._settings.confirm_timeout_s)  # fmt: skip
                self.sent_through, self._sent_at = self.floor, None
                await self._send_new()
            await asyncio.sleep(every)

    async def _send_new(self) -> None:
        if not self._link.up:
            return
        loop = asyncio.get_running_loop()
        while True:
            rows = await self._ledger(
                functools.partial(self._outbox.pending, after=self.sent_through, limit=self._settings.batch)
            )
            if not rows:
                return
            payload = Events(v=1, device=self.device, incarnation=self.incarnation, floor=self.floor,
                             events=[event_of(row) for row in rows])  # fmt: skip
            try:
                await self._link.publish(self._topics.events(self.device), dump(payload))
            except LinkDown:
                return  # kept: the next connection sends from the floor
            self.sent += len(rows)
            self.sent_through = rows[-1].seq
            if self._sent_at is None:
                self._sent_at = loop.time()

    async def on_message(self, message: aiomqtt.Message) -> None:
        if not message.topic.matches(self._topics.confirmed(self.device)):
            return
        try:
            mark = parse(Confirmed, message.payload)
        except PayloadError as exc:
            log.warning("sync %s: a confirmation dropped: %s", self.device, exc)
            return
        if mark.device != self.device or mark.incarnation != self.incarnation:
            log.info("sync %s: a confirmation for incarnation %s ignored (ours: %s)", self.device, mark.incarnation,
                     self.incarnation)  # fmt: skip
            return
        if mark.through <= self.floor:
            return
        at = dt.datetime.now(dt.UTC)
        self.floor = await self._ledger(lambda: self._outbox.confirm(mark.through, at=at))
        self.sent_through = max(self.sent_through, self.floor)
        # Progress: the timer of what is still unconfirmed starts again.
        self._sent_at = None if self.floor >= self.sent_through else asyncio.get_running_loop().time()
        log.debug("sync %s: confirmed through %d", self.device, self.floor)
