"""The ledger down, on the device: the hub's batches applied in order, gaps healed by catch-up.

Batches come on the batches topic as the hub publishes them, and on this device's responses
topic when it asked (MQTT v5 request/response: a response topic and correlation data). The
retained head tells how far behind the device is. Each batch is checked and applied on the
ledger thread (gate.sync.batches); a gap, or a head ahead, sends a catch-up request, at most
one every `ASK_EVERY_S` while none is answered.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from gate.cache import Ledger
from gate.sync.batches import Applied, Batch, CatchUp, Head, applied_seq, apply_batch, finish_erasure
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import PayloadError, dump, parse
from gate.sync.pull import Puller
from gate.sync.topics import Topics

log = logging.getLogger("gate.sync")

ASK_EVERY_S = 1.0

Run = Callable[[Callable[[], Any]], Awaitable[Any]]


class Downlink:
    def __init__(
        self, *, ledger: Ledger, run: Run, link: Link, topics: Topics, device: str, keys: dict[str, str],
        snapshots: Puller | None = None,
    ) -> None:  # fmt: skip
        self._ledger = ledger
        self._run = run
        self._link = link
        self._topics = topics
        self.device = device
        self._keys = dict(keys)
        self.seq = 0  # the batch applied last
        self.head = 0  # the hub's newest, as its head said
        self.clock_offset_s: float | None = None  # the hub's clock minus ours, when its head arrived
        self.head_at: float | None = None  # the hub's time in its newest head (it sends one every 30 s)
        self.behind_since: float | None = None  # since when the hub has had batches this device has not
        self._asked_at: float | None = None
        self._snapshots = snapshots  # a new or far-behind gate takes a snapshot (gate/sync/pull.py)
        if snapshots is not None:
            snapshots.on_done = self._snapshot_taken

    @property
    def subscriptions(self) -> list[str]:
        return [self._topics.batches, self._topics.head, self._topics.responses(self.device)]

    async def start(self) -> None:
        self.seq = await self._run(lambda: applied_seq(self._ledger))
        await self._run(lambda: finish_erasure(self._ledger))  # one a killed sync left (gate/cache/erasure.py)
        if self._snapshots is not None:
            await self._snapshots.start()

    def handles(self, topic: str) -> bool:
        return topic in self.subscriptions

    async def on_message(self, message: aiomqtt.Message) -> None:
        topic, payload = str(message.topic), message.payload
        if self._snapshots is not None and topic != self._topics.head and self._snapshots.claims(message):
            self._snapshots.on_message(message)
            return
        try:
            if topic == self._topics.head:
                await self._on_head(parse(Head, payload), retained=bool(message.retain))
            else:
                await self._on_batch(parse(Batch, payload))
        except PayloadError as exc:
            log.warning("sync %s: a message on %s dropped: %s", self.device, topic, exc)

    def _lag(self) -> None:
        if self.head <= self.seq:
            self.behind_since = None
        elif self.behind_since is None:
            self.behind_since = time.time()

    async def _on_head(self, head: Head, *, retained: bool) -> None:
        self.head = head.seq
        self.head_at = head.at if self.head_at is None else max(self.head_at, head.at)
        self._lag()
        if not retained:  # a retained head tells an old time; one published while we listen is a clock
            self.clock_offset_s = head.at - time.time()
        if head.seq > self.seq and not self._snapshotting():
            await self._ask()

    def _snapshotting(self) -> bool:
        """Whether a snapshot is under way (or wanted now: new, or far behind): batches wait for it."""
        snapshots = self._snapshots
        if snapshots is not None and not snapshots.busy and snapshots.wanted(self.seq, self.head):
            snapshots.want()
        return snapshots is not None and snapshots.busy

    async def _snapshot_taken(self, seq: int) -> None:
        """The snapshot is in: batches after it by catch-up."""
        self.seq = seq
        self._asked_at = None
        self._lag()
        if self.head > self.seq:
            await self._ask()

    async def _on_batch(self, batch: Batch) -> None:
        if self._snapshotting():  # the snapshot's batch and the ones after it come after its switch
            self.head = max(self.head, batch.seq)
            return
        site, keys = self._topics.site, self._keys
        done: Applied = await self._run(lambda: apply_batch(self._ledger, site, batch, keys))
        self.seq = done.seq
        self.head = max(self.head, batch.seq)
        self._lag()
        if done.outcome == "applied":
            self._asked_at = None
            log.info("sync %s: batch %d applied", self.device, batch.seq)
        elif done.outcome == "refused":
            log.warning("sync %s: %s", self.device, done.problem)
        if (done.outcome == "gap" or (done.outcome == "applied" and self.head > self.seq)) and not self._snapshotting():
            await self._ask()

    async def _ask(self) -> None:
        loop = asyncio.get_running_loop()
        if self._asked_at is not None and loop.time() - self._asked_at < ASK_EVERY_S:
            return
        self._asked_at = loop.time()
        request = CatchUp(v=1, device=self.device, after=self.seq)
        try:
            await self._link.publish(self._topics.requests, dump(request), response_topic=self._topics.responses(
                self.device), correlation=secrets.token_bytes(8))  # fmt: skip
        except LinkDown:
            return
        log.info("sync %s: catch-up asked after batch %d (the hub is at %d)", self.device, self.seq, self.head)
