"""`gate hub --config F`: every device's events in, exactly once, and their confirmations out.

    HubService (an async context manager)
    ├── the store (gate.hub.store), used by one worker thread
    └── the MQTT link (gate.sync.link), subscribed to every device's events

Each events message is validated (gate.sync.payloads) and must name the device of its topic:
the broker authenticates devices and its ACL lets each publish on its own topics only, and
the hub drops any message whose device differs from its topic's (docs/sync.md). What is new
is stored in one transaction, and the (device, incarnation)'s high-water mark is published
retained, QoS 1: the device lets go of its rows only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Self, TypeVar

import aiomqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.config import GateConfig
from gate.hub import inbox
from gate.hub.admissions import add_to_log, made_by_kiosks
from gate.hub.command import HubCommands
from gate.hub.conflicts import Judge, mirror_path
from gate.hub.group import identity, link_settings, several, subscriptions
from gate.hub.leader import CHECK_S, Leader, Solo, open_leader
from gate.hub.mirror import Mirror
from gate.hub.publish import PublishError, ledger_key
from gate.hub.snapshots import SnapshotServer
from gate.hub.store import HubStore, StoreUnavailable, open_store
from gate.metrics import hub_metrics, serving
from gate.sync.batches import CatchUp, Head
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import Confirmed, Events, PayloadError, dump, events_of, parse
from gate.sync.topics import Topics

log = logging.getLogger("gate.hub")

_T = TypeVar("_T")
LOG_POLL_S = 0.2  # how often the store is looked at for batches another process appended
HEAD_EVERY_S = 5.0  # the head again: each device measures its clock against it, and hears the hub


class HubService:
    def __init__(self, config: GateConfig) -> None:
        self.config = config
        self.topics = Topics(config.sync.site)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-store")
        self.store: HubStore | None = None
        self.judge: Judge | None = None
        # Several hubs on one PostgreSQL: shared subscriptions, one publisher (gate/hub/group.py, leader.py).
        identifier, online = identity(config, self.topics)
        self.link = Link(
            link_settings(config), identifier=identifier, online_topic=online,
            subscriptions=subscriptions(config, self.topics), on_message=self._on_message, on_up=self._announce,
        )  # fmt: skip
        self.leader: Leader = Solo()
        self.leading = not several(config)  # this hub publishes the log, the head and commands
        self.mirror = Mirror(config)  # its copy of the ledger, in step with the log (gate/hub/mirror.py)
        self._mirror_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-mirror")
        self._told: list[str] | None = None  # the newest conflict the publisher sent the recent ones with
        self.commands = HubCommands(topics=self.topics, link=self.link)
        self.snapshots = SnapshotServer(config, store=lambda: self.store, link=self.link, topics=self.topics,
                                        run=self._run)  # fmt: skip
        self._ledger_key: Ed25519PrivateKey | None = None  # signs kiosks' admissions into the log
        self._presence_noted: dict[str, bool] = {}  # each device's presence as this hub last stored it
        self.dropped = 0  # messages refused (tests, status)
        self.published = 0  # the newest batch sent on the batches topic
        self.metrics = hub_metrics(config, self)  # [metrics] hub, else None (gate/metrics/hub.py)

    async def _run(self, call: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def __aenter__(self) -> Self:
        path, config = self.config.hub.store, self.config
        self.store = store = await self._run(lambda: open_store(config))  # SQLite, or PostgreSQL ([hub] dsn_file)
        self.judge = Judge(store, mirror_path(path))
        self.leader = open_leader(config)
        await self._follow()  # before the first message is judged against the copy
        try:
            self._ledger_key = ledger_key(self.config)
        except PublishError as exc:
            log.warning("hub %s: kiosks' admissions are not added to the log: %s", self.config.sync.site, exc)
        log.info("hub %s: store %s", self.config.sync.site, "PostgreSQL" if config.hub.dsn_file else path)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.snapshots.close()
        await asyncio.get_running_loop().run_in_executor(self._mirror_thread, self.mirror.close)
        self._mirror_thread.shutdown(wait=True)
        await asyncio.to_thread(self.leader.close)
        store, self.store = self.store, None
        if self.judge is not None:
            await self._run(self.judge.close)
        if store is not None:
            await self._run(store.close)
        self._executor.shutdown(wait=True)

    def _drop(self, topic: str, why: str) -> None:
        self.dropped += 1
        log.warning("hub: a message on %s dropped: %s", topic, why)

    async def _on_message(self, message: aiomqtt.Message) -> None:
        try:
            await self._handle(message)
        except StoreUnavailable as exc:  # a database away: what the device does not see confirmed, it sends again
            log.warning("hub: a message on %s left unanswered: %s", message.topic, exc)

    async def _handle(self, message: aiomqtt.Message) -> None:
        topic = str(message.topic)
        if topic == self.topics.requests:
            if not await self.snapshots.on_request(message):  # a snapshot's (gate/hub/snapshots.py), or a catch-up
                await self._catch_up(message)
            return
        if self.commands.handles(topic):
            await self._answered(topic, message.payload)
            return
        if (present := self.topics.device_of_online(topic)) is not None:
            await self._presence(topic, present, message.payload)
            return
        device = self.topics.device_of_events(topic)
        if device is None:
            return
        try:
            events = events_of(device, message.payload)
        except PayloadError as exc:
            self._drop(topic, str(exc))
            return
        store, judge = self.store, self.judge
        assert store is not None and judge is not None
        new, through = await self._run(lambda: store.add(events))
        if self.metrics is not None:
            self.metrics.stored(new, len(events.events))
        if new:
            found = await self._run(lambda: judge.judge(events.events))
            if found:
                if self.metrics is not None:
                    self.metrics.found(len(found))
                if not several(self.config):  # several hubs: the publisher sends them (`_recent`)
                    await self._conflicts()
            await self._admissions(events)
        log.debug("hub: %s/%s: %d new of %d, through %d", device, events.incarnation, new, len(events.events), through)
        mark = Confirmed(v=1, device=device, incarnation=events.incarnation, through=through)
        with contextlib.suppress(LinkDown):  # lost: the device sends again, and the mark goes out then
            await self.link.publish(self.topics.confirmed(device), dump(mark), retain=True)


    async def _admissions(self, events: Events) -> None:
        """Kiosks' admissions into the log (gate/hub/admissions.py); `watch_log` sends the batch."""
        made, key, store = made_by_kiosks(events.events), self._ledger_key, self.store
        if not made or key is None or store is None:
            return
        hub, mirror = self.config.hub, mirror_path(self.config.hub.store)
        await self._run(lambda: add_to_log(store, mirror, made, site=self.config.sync.site, key_id=hub.ledger_key_id,
                                           key=key))  # fmt: skip

    # --- the ledger down: batches, the head, catch-up ---------------------------------------------

    async def _announce(self) -> None:
        """On every connection: the head, retained, so a device knows how far behind it is (from the
        publishing hub only); the recent conflicts."""
        store = self.store
        assert store is not None
        if self.leading:
            head = await self._run(store.head)
            if head > self.published:  # what came meanwhile: the devices catch up to the head
                self.published = head
                await asyncio.to_thread(self.leader.note_published, head)  # the next publisher carries on from it
            await self._head(head)
        if several(self.config):
            self._told = None  # the publisher's next `_recent` sends them again
        else:
            await self._conflicts()

    async def _conflicts(self) -> None:
        """The recent double uses, retained: every device's console shows them (gate/sync/conflicts.py)."""
        judge = self.judge
        assert judge is not None
        recent = await self._run(judge.recent)
        with contextlib.suppress(LinkDown):
            await self.link.publish(self.topics.conflicts, dump(recent), retain=True)

    async def _head(self, seq: int) -> None:
        with contextlib.suppress(LinkDown):
            await self.link.publish(self.topics.head, dump(Head(v=1, seq=seq, at=time.time())), retain=True)

    async def watch_log(self) -> None:
        """Batches appended to the store (by `gate hub publish`, another process): sent, then the head."""
        loop = asyncio.get_running_loop()
        told, checked = loop.time(), loop.time() - CHECK_S  # the lock tried at once
        away = False  # the store unavailable: said once, and once when it is back
        while True:
            await asyncio.sleep(LOG_POLL_S)
            try:
                await self._follow()
                if loop.time() - checked >= CHECK_S:
                    checked = loop.time()
                    await self._lead()
                    await self._recent()
                if not self.link.up or not self.leading:
                    continue
                if loop.time() - told >= HEAD_EVERY_S:  # the head's time is the devices' clock check
                    told = loop.time()
                    await self._head(self.published)
                await self._send_log()
            except StoreUnavailable as exc:  # looked at again at the next poll
                if not away:
                    log.warning("hub %s: the log cannot be read: %s", self.config.sync.site, exc)
                away = True
                continue
            if away:
                log.warning("hub %s: the store answers again", self.config.sync.site)
            away = False

    async def _follow(self) -> None:
        """The log's batches this hub's copy of the ledger has not applied, applied (gate/hub/mirror.py)."""
        store, mirror = self.store, self.mirror
        assert store is not None
        await asyncio.get_running_loop().run_in_executor(self._mirror_thread, lambda: mirror.follow(store))

    async def _lead(self) -> None:
        """Whether this hub publishes: the venue's lock held (gate/hub/leader.py) while the link is up;
        a new publisher carries on after the batch the last one noted."""
        store, leader, was = self.store, self.leader, self.leading
        assert store is not None
        if not self.link.up:  # the devices cannot hear this hub: another may publish
            if was and several(self.config):
                self.leading = False
                await asyncio.to_thread(leader.close)
                log.info("hub %s: the broker is away: the venue's lock let go", self.config.sync.site)
            return
        self.leading = await asyncio.to_thread(leader.check)
        if self.leading and not was:
            noted = await asyncio.to_thread(leader.published)
            self.published = noted if noted is not None else max(self.published, await self._run(store.head))
            await self._head(self.published)
            self._told = None

    async def _recent(self) -> None:
        """Several hubs: the publisher alone sends the recent conflicts, when the newest changed, so
        the retained list is never an older one that another hub read first and sent last."""
        store = self.store
        assert store is not None
        if not several(self.config) or not self.leading or not self.link.up:
            return
        newest = await self._run(lambda: store.conflicts(limit=1))
        if newest != self._told:
            await self._conflicts()
            self._told = newest

    async def _send_log(self) -> None:
        """The batches after the last one sent, each followed by the head; then remote commands."""
        store = self.store
        assert store is not None
        sent = self.published
        for batch in await self._run(lambda: store.batches(self.published)):
            try:
                await self.link.publish(self.topics.batches, dump(batch))
            except LinkDown:
                break
            self.published = batch.seq
            if self.metrics is not None:
                self.metrics.published()
            await self._head(batch.seq)
            log.info("hub %s: batch %d published", self.config.sync.site, batch.seq)
        if self.published != sent:  # where the next publisher carries on
            await asyncio.to_thread(self.leader.note_published, self.published)
        await self._send_commands()

    async def _presence(self, topic: str, device: str, payload: object) -> None:
        """A device's retained presence (its will says offline): kept for `gate hub report devices`."""
        if payload not in (b"online", b"offline"):
            self._drop(topic, f"a presence of {payload!r}, not online or offline")
            return
        store, at, online = self.store, time.time(), payload == b"online"
        assert store is not None
        if self.metrics is not None:
            self.metrics.presence(device, online)
        if self._presence_noted.get(device) == online:
            return  # a device says "online" every 5 s: the store keeps the changes, since when
        await self._run(lambda: store.note_presence(device, online, at))
        self._presence_noted[device] = online

    async def _answered(self, topic: str, payload: object) -> None:
        """A device's answer to a remote command, or its health (its versions), into the store."""
        store, commands = self.store, self.commands
        assert store is not None
        why = await self._run(lambda: commands.answered(store, topic, payload))
        if why is not None:
            self._drop(topic, why)

    async def _send_commands(self) -> None:
        """Remote commands `gate hub command` put in the store: sent once each, unless expired."""
        store = self.store
        assert store is not None
        sent: list[str] = []
        await self.commands.send(await self._run(lambda: store.unsent_commands(time.time())), sent)
        if sent:
            await self._run(lambda: store.commands_sent(sent))

    async def _catch_up(self, message: aiomqtt.Message) -> None:
        """A device's request (MQTT v5): the batches after its seq, to its response topic."""
        properties = message.properties
        reply = getattr(properties, "ResponseTopic", None)
        correlation = getattr(properties, "CorrelationData", None)
        try:
            asked = parse(CatchUp, message.payload)
            if not isinstance(reply, str) or reply != self.topics.responses(asked.device):
                raise PayloadError(f"a response topic other than the device's own: {reply!r}")
        except PayloadError as exc:
            self._drop(self.topics.requests, str(exc))
            return
        store = self.store
        assert store is not None
        batches = await self._run(lambda: store.batches(asked.after))
        for batch in batches:
            with contextlib.suppress(LinkDown):
                await self.link.publish(reply, dump(batch), correlation=correlation)
        log.info("hub: catch-up for %s after %d: %d batch(es)", asked.device, asked.after, len(batches))


async def run_hub(config: GateConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with (
            HubService(config) as hub,
            serving(hub.metrics, key="metrics.hub", source="gate hub"),  # [metrics] hub, if named
            asyncio.TaskGroup() as group,
        ):
            tasks = [group.create_task(hub.link.run(), name="link"), group.create_task(hub.watch_log(), name="log")]
            if config.hub.inbox is not None:  # the back office's files from a folder (gate/hub/inbox.py)
                tasks.append(group.create_task(inbox.watch(config), name="inbox"))
            log.info("hub %s: ready, broker %s:%d", config.sync.site, config.sync.host, config.sync.port)
            await stop.wait()
            for task in tasks:
                task.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
