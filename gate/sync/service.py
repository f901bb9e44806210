"""`gate sync --config F`: the sync process of one ledger file, beside the lane daemons that write it.

    SyncService (an async context manager)
    ├── its own ledger connection, used by one worker thread only
    └── TaskGroup
        ├── link      the MQTT link (gate.sync.link): connect, subscribe, reconnect; its messages:
        │               confirmations (gate.sync.outbox), the hub's batches and head
        │               (gate.sync.down), peers' events and wills (gate/cache/peers.py)
        ├── outbox    new journal rows published (gate.sync.outbox)
        └── state     the link's state written to the ledger's meta every `STATE_EVERY_S`,
                      the retained health message every `HEALTH_EVERY_S`

It writes in short transactions only (a confirmation marks at most a few thousand rows per
transaction), so the lanes' writers never wait long. SIGTERM or SIGINT stops it; nothing is
lost by a stop or a kill: what the hub has not confirmed stays in the journal and is sent
again by the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import math
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from types import TracebackType
from typing import TYPE_CHECKING, Self, TypeVar

import aiomqtt

from gate.cache import FORMAT_VERSION, Ledger
from gate.config import ConfigError, GateConfig
from gate.metrics import serving, sync_metrics
from gate.sync import homeassistant
from gate.sync.commands import Remote
from gate.sync.conflicts import CONFLICTS, Conflicts, as_setting
from gate.sync.down import Downlink
from gate.sync.health import device_state
from gate.sync.homeassistant import HomeAssistant
from gate.sync.link import Link, LinkDown
from gate.sync.outbox import Publisher
from gate.sync.payloads import READS, Health, PayloadError, dump, events_of, parse
from gate.sync.pull import Puller
from gate.sync.topics import Topics

if TYPE_CHECKING:
    from gate.metrics.sync import SyncMetrics

log = logging.getLogger("gate.sync")

STATE_EVERY_S = 2.0
BEAT_S = 5.0  # "online" again, live: the peers hear this device even while nothing happens
HEALTH_EVERY_S = 30.0  # the retained health message (and at every connection)
PRUNE_EVERY_S = 3600.0  # the retention's pruning, from the start on
_T = TypeVar("_T")


class SyncService:
    def __init__(self, config: GateConfig, *, source: str) -> None:
        device = config.device.id
        if device is None:
            raise ConfigError(source, ["device.id: gate sync needs this device's id"])
        self.config = config
        self.device = device
        self.topics = Topics(config.sync.site)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-ledger")
        self._ledger: Ledger | None = None
        self.publisher: Publisher | None = None
        self.downlink: Downlink | None = None
        self.snapshots: Puller | None = None
        self.remote: Remote | None = None
        self.link: Link | None = None
        self.homeassistant: HomeAssistant | None = None  # [homeassistant] discovery (gate/sync/homeassistant.py)
        self.metrics: SyncMetrics | None = None  # [metrics] sync (gate/metrics/sync.py)
        self._since = dt.datetime.now(dt.UTC)
        self.peer_rows = 0  # peers' rows that changed usage here, since the start
        self._alarmed = False  # the outbox alarm was said
        self._heard = -math.inf  # (loop time) the last live message of the hub or a peer
        self._online = False  # connected, and the hub or a peer heard within [sync] online_within_s
        self._echoes = {self.topics.online(device), self.topics.events(device), self.topics.health(device)}

    async def _run(self, call: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def __aenter__(self) -> Self:
        path = self.config.ledger.path
        self._ledger = ledger = await self._run(lambda: Ledger.open(path, create=False))
        outbox = ledger.outbox()
        incarnation = await self._run(outbox.incarnation)
        self.link = Link(
            self.config.sync, identifier=f"gate-sync-{self.device}", online_topic=self.topics.online(self.device),
            subscriptions=[self.topics.confirmed(self.device), self.topics.all_events, self.topics.all_online,
                           self.topics.batches, self.topics.head, self.topics.responses(self.device),
                           self.topics.conflicts, self.topics.commands(self.device),
                           *homeassistant.subscriptions(self.config)],
            on_message=self._on_message, on_up=self._up, on_down=self._down,
        )  # fmt: skip
        self.snapshots = Puller(ledger=ledger, run=self._run, link=self.link, topics=self.topics, device=self.device,
                                settings=self.config.sync)  # fmt: skip
        self.downlink = Downlink(ledger=ledger, run=self._run, link=self.link, topics=self.topics, device=self.device,
                                 keys=self.config.sync.ledger_keys, snapshots=self.snapshots)  # fmt: skip
        await self.downlink.start()
        downlink = self.downlink
        self.remote = Remote(config=self.config, ledger=ledger, run=self._run, link=self.link, topics=self.topics,
                             device=self.device, clock_offset=lambda: downlink.clock_offset_s)  # fmt: skip
        self.publisher = Publisher(outbox=outbox, run=self._run, link=self.link, topics=self.topics,
                                   device=self.device, incarnation=incarnation, settings=self.config.sync)  # fmt: skip
        await self.publisher.start()
        if self.config.homeassistant.discovery:
            self.homeassistant = HomeAssistant(config=self.config, ledger=ledger, run=self._run, link=self.link,
                                               topics=self.topics, device=self.device)  # fmt: skip
        self.metrics = sync_metrics(self.config, self, ledger=ledger, run=self._run)
        log.info("sync %s: ledger %s, incarnation %s, confirmed through %d", self.device, path, incarnation,
                 self.publisher.floor)  # fmt: skip
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ledger, self._ledger = self._ledger, None
        if ledger is not None:
            await self._run(ledger.close)
        self._executor.shutdown(wait=True)

    async def _on_message(self, message: aiomqtt.Message) -> None:
        assert self.publisher is not None
        topic = str(message.topic)
        if self.homeassistant is not None and self.homeassistant.handles(topic):  # neither the hub nor a peer
            await self.homeassistant.on_message(message)
            return
        if not message.retain and topic not in self._echoes:  # a retained one is old news
            self._heard = asyncio.get_running_loop().time()
        if self.downlink is not None and self.downlink.handles(topic):
            await self.downlink.on_message(message)
            return
        if self.remote is not None and topic == self.remote.topic:
            await self.remote.on_message(message)
            return
        if topic == self.topics.conflicts:
            await self._conflicts(message.payload)
            return
        peer = self.topics.device_of_events(topic)
        gone = self.topics.device_of_online(topic)
        if gone is not None:
            if gone != self.device and message.payload == b"offline":
                await self._peer_offline(gone)
        elif peer is None:
            await self.publisher.on_message(message)
        elif peer != self.device:
            await self._peer(peer, message)

    async def _conflicts(self, payload: object) -> None:
        """The hub's recent double uses: kept for this device's staff console."""
        try:
            recent = parse(Conflicts, payload)
        except PayloadError as exc:
            log.warning("sync %s: the hub's conflicts dropped: %s", self.device, exc)
            return
        ledger = self._ledger
        assert ledger is not None
        await self._run(lambda: ledger.touch(settings={CONFLICTS: as_setting(recent)}))
        log.info("sync %s: %d conflict(s) reported by the hub", self.device, len(recent.conflicts))

    async def _peer_offline(self, peer: str) -> None:
        ledger = self._ledger
        assert ledger is not None
        outbox = ledger.outbox()
        ended = await self._run(lambda: outbox.peer_offline(peer))
        log.info("sync %s: peer %s offline: %d held use(s) of it no longer count", self.device, peer, ended)

    async def _peer(self, peer: str, message: aiomqtt.Message) -> None:
        """Another device's journal rows: what changes usage is counted here from now on."""
        try:
            events = events_of(peer, message.payload)
        except PayloadError as exc:
            log.warning("sync %s: a message of %s dropped: %s", self.device, peer, exc)
            return
        ledger = self._ledger
        assert ledger is not None
        outbox, hold_s = ledger.outbox(), self.config.sync.peer_hold_s
        changed, bad = await self._run(lambda: outbox.receive(peer, events.events, hold_s=hold_s))
        self.peer_rows += changed
        if bad:
            log.warning("sync %s: %d row(s) of %s dropped: uses that cannot be read", self.device, bad, peer)
        log.debug("sync %s: %d row(s) of %s applied", self.device, changed, peer)

    def _in_step(self, online: bool) -> None:
        """Online: connected, and the hub or a peer heard lately. Its changes date `since`, which
        the lanes' offline policy counts from."""
        if online == self._online:
            return
        self._online = online
        self._since = dt.datetime.now(dt.UTC)
        if online:
            log.info("sync %s: online (connected, the hub or a peer heard)", self.device)
        elif self.link is not None and self.link.up:
            log.warning("sync %s: offline: connected, but no word from the hub or a peer for %g s", self.device,
                        self.config.sync.online_within_s)  # fmt: skip

    async def _up(self) -> None:
        self._heard = asyncio.get_running_loop().time()  # the retained news comes at once; then live words
        self._in_step(True)
        assert self.publisher is not None
        await self.publisher.connected()
        await self._state()
        await self._health()
        if self.homeassistant is not None:
            await self.homeassistant.announce()

    async def _down(self) -> None:
        self._in_step(False)
        await self._state()

    async def _state(self) -> None:
        ledger, link, publisher = self._ledger, self.link, self.publisher
        if ledger is None or link is None or publisher is None:
            return
        outbox = ledger.outbox()
        depth = await self._run(outbox.depth)
        state = {"link": "up" if self._online else "down", "since": self._since.isoformat(), "outbox": str(depth),
                 "confirmed_through": str(publisher.floor), "device": self.device}  # fmt: skip
        alarm = depth > self.config.sync.outbox_alarm
        if alarm and not self._alarmed:
            log.warning("sync %s: ALARM: %d journal rows wait for the hub (more than %d)", self.device, depth,
                        self.config.sync.outbox_alarm)  # fmt: skip
        self._alarmed = alarm
        state["outbox_alarm"] = "yes" if alarm else ""
        if self.downlink is not None:
            state["head"] = str(self.downlink.head)  # the hub's newest batch; sync.batch_seq is this ledger's
            offset = self.downlink.clock_offset_s
            state["clock_offset_s"] = "" if offset is None else f"{offset:.3f}"
            head_at, behind = self.downlink.head_at, self.downlink.behind_since
            state["head_at"] = "" if head_at is None else f"{head_at:.3f}"
            state["behind_since"] = "" if behind is None else f"{behind:.3f}"
        await self._run(lambda: outbox.link(state))

    async def _prune(self) -> None:
        """The privacy retention: confirmed, folded journal rows older than `[sync] retention_days` go."""
        ledger = self._ledger
        assert ledger is not None
        outbox, days = ledger.outbox(), self.config.sync.retention_days
        while True:
            gone = await self._run(functools.partial(outbox.prune, time.time() - days * 86_400))
            if gone:
                log.info("sync %s: %d journal row(s) older than %g days pruned (confirmed by the hub)", self.device,
                         gone, days)  # fmt: skip
            await asyncio.sleep(PRUNE_EVERY_S)

    async def _report(self) -> None:
        loop = asyncio.get_running_loop()
        told = beat = 0.0
        within = self.config.sync.online_within_s
        while True:
            await asyncio.sleep(STATE_EVERY_S)
            link = self.link
            assert link is not None
            if link.up and loop.time() - beat >= BEAT_S:
                beat = loop.time()
                with contextlib.suppress(LinkDown):
                    await link.publish(self.topics.online(self.device), b"online", retain=True)
            self._in_step(link.up and loop.time() - self._heard <= within)
            await self._state()
            if loop.time() - told >= HEALTH_EVERY_S:
                told = loop.time()
                await self._health()

    async def _health(self) -> None:
        """The periodic health message, retained: what an operator watches of this device."""
        ledger, link, publisher, downlink = self._ledger, self.link, self.publisher, self.downlink
        if ledger is None or link is None or publisher is None or downlink is None or not link.up:
            return
        outbox = ledger.outbox()
        depth = await self._run(outbox.depth)
        problem = await self._run(lambda: ledger.setting("sync.ledger_problem")) or ""
        state = await device_state(self.config)
        health = Health(
            v=2, device=self.device, at=time.time(), software=version("gate"), format=FORMAT_VERSION,
            payloads=list(READS), outbox=depth, confirmed_through=publisher.floor, batch=downlink.seq,
            head=downlink.head, clock_offset_s=downlink.clock_offset_s, ledger_problem=problem[:500],
            lanes=state.lanes, readers=state.readers, clock_trusted=state.clock_trusted,
            storage_free=state.storage_free, storage_fault=state.storage_fault,
        )  # fmt: skip
        with contextlib.suppress(LinkDown):
            await link.publish(self.topics.health(self.device), dump(health), retain=True)

    async def run(self, stop: asyncio.Event) -> None:
        assert self.link is not None and self.publisher is not None and self.snapshots is not None
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self.link.run(), name="link"),
                group.create_task(self.publisher.watch(), name="outbox"),
                group.create_task(self._report(), name="state"),
                group.create_task(self._prune(), name="prune"),
                group.create_task(self.snapshots.run(), name="snapshot"),
            ]
            if self.homeassistant is not None:
                tasks.append(group.create_task(self.homeassistant.run(), name="homeassistant"))
            await stop.wait()
            for task in tasks:
                task.cancel()
        if self.remote is not None:
            await self.remote.drain()
        await self._state()


async def run_sync(config: GateConfig, *, source: str) -> None:
    """The process's main: until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with SyncService(config, source=source) as service, serving(service.metrics, key="metrics.sync",
                                                                          source=source):  # fmt: skip
            log.info("sync %s: ready, broker %s:%d", service.device, config.sync.host, config.sync.port)
            await service.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
