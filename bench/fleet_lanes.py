"""Simulated lanes for bench/fleet.py: light MQTT clients in one process, each doing what a device's
`gate sync` does on the wire (gate/sync/outbox.py, gate/sync/service.py).

- Its journal's rows go out as `Events` messages on its events topic, QoS 1, in seq order under
  one (device, incarnation), at most `batch` rows a message, with the floor it was confirmed to.
- A row is kept until the hub's mark (`hub/confirmed/<device>`, retained) covers it; what is not
  confirmed `confirm_timeout_s` after it was sent is sent again from the mark, as gate sync does.
- `online` retained at the start (its will says `offline`) and again every 5 s, and a health
  message (version 1) every 30 s; the hub stores each of these too.

The rows are the two a visitor makes at a lane: `redemption.held` at the read, and
`redemption.committed` at the passage, shaped as a real engine writes them (`Shapes`), each
visitor with its own ticket and ids. The end-to-end time of a row runs from its first publish
to its mark arriving back at the lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import json
import random
import secrets
import socket
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiomqtt

from gate.cache import Ledger
from gate.cache.exchange import HEADER
from gate.config import load_config
from gate.engine import Engine
from gate.sync.outbox import event_of
from gate.sync.payloads import READS, Confirmed, Events, Health, PayloadError, dump, parse
from gate.sync.topics import Topics
from tests.configs import config_text

CONFIRM_TIMEOUT_S = 10.0  # [sync] confirm_timeout_s's default
HEALTH_EVERY_S = 30.0  # gate/sync/service.py
BEAT_S = 5.0  # gate/sync/service.py: "online" again, retained, while connected (the hub stores each)
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)  # as gate/sync/link.py


class Shapes:
    """A visitor's two journal rows as a real lane writes them: one ticket held and committed by
    the engine on a ledger of its own, taken as the model every simulated visitor copies."""

    def __init__(self) -> None:
        with tempfile.TemporaryDirectory(prefix="gate-bench-fleet-") as tmp:
            config = Path(tmp) / "lane.toml"
            config.write_text(config_text({"ledger": {"path": "lane.sqlite"}, "device": {"id": "model"}}))
            today = dt.datetime.now(dt.UTC).date().isoformat()
            with Ledger.open(Path(tmp) / "lane.sqlite") as ledger:
                model = {"type": "entitlement", "kind": "ticket", "id": "t-model", "version": 1, "day": today,
                         "references": ["TMODEL"]}  # fmt: skip
                ledger.import_lines([HEADER, json.dumps(model)], source="bench")
                engine = Engine(ledger, load_config(config))
                held = engine.admit("TMODEL", lane="l1", at=dt.datetime.now(dt.UTC))
                assert held.redemption is not None, held.decision
                engine.commit(held.redemption, at=dt.datetime.now(dt.UTC))
                rows = [event_of(entry).model_dump(mode="json") for entry in ledger.journal(limit=10)]
        assert [row["type"] for row in rows] == ["redemption.held", "redemption.committed"], rows
        self.held, self.committed = rows

    def row(self, kind: str, seq: int, visitor: Visitor, at: float) -> str:
        """Row `kind` (held or committed) of `visitor` at time `at`, as its JSON text."""
        row: dict[str, Any] = copy.deepcopy(self.held if kind == "held" else self.committed)
        iso = dt.datetime.fromtimestamp(at, dt.UTC).isoformat()
        held_iso = dt.datetime.fromtimestamp(visitor.held_at, dt.UTC).isoformat()
        row.update(seq=seq, id=visitor.redemption if kind == "held" else secrets.token_hex(16), at=at,
                   entitlement_id=visitor.ticket, redemption_id=visitor.redemption)  # fmt: skip
        body = row["body"]
        body.update(redemption=visitor.redemption, entitlement_id=visitor.ticket, reference=visitor.reference,
                    held_at=held_iso, at=iso)  # fmt: skip
        for use in body["uses"]:
            use.update(entitlement_id=visitor.ticket, at=held_iso)
        return json.dumps(row, separators=(",", ":"))


class Visitor:
    def __init__(self, device: str, n: int) -> None:
        self.redemption = secrets.token_hex(16)
        self.ticket = f"t-{device}-{n}"
        self.reference = f"T-{device}-{n}"
        self.held_at = time.time()


class Lane:
    """One device's link: its journal, what it sent, what came back."""

    def __init__(self, site: str, device: str, shapes: Shapes, latencies: dict[str, list[float]]) -> None:
        self.site, self.device, self.shapes = site, device, shapes
        self.topics = Topics(site)
        self.incarnation = secrets.token_hex(8)
        self.journal: list[str] = []  # row seq n at n - 1
        self.phase: list[str] = []  # the bench's phase each row was made in
        self.first_sent: list[float] = []  # perf_counter of each row's first publish, 0 before
        self.floor = 0  # confirmed through
        self.sent_through = 0
        self.batch = 200  # [sync] batch's default
        self.visitors = 0
        self.resent = 0  # rows sent again (not confirmed in time)
        self.published = 0  # messages: events, presence, health
        self.marks = 0  # the hub's marks heard
        self.latencies = latencies  # by phase, seconds, shared by the fleet
        self._waiting_since: float | None = None  # the oldest send not confirmed yet
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self.client: aiomqtt.Client | None = None

    def client_for(self, port: int) -> aiomqtt.Client:
        will = aiomqtt.Will(self.topics.online(self.device), b"offline", qos=1, retain=True)
        self.client = aiomqtt.Client("127.0.0.1", port, identifier=self.device, protocol=aiomqtt.ProtocolVersion.V5,
                                     will=will, keepalive=30, socket_options=NO_DELAY, timeout=30)  # fmt: skip
        return self.client

    async def start(self) -> None:
        assert self.client is not None
        await self.client.subscribe(self.topics.confirmed(self.device), qos=1)
        await self.client.publish(self.topics.online(self.device), b"online", qos=1, retain=True)

    def write(self, kind: str, visitor: Visitor, phase: str) -> None:
        seq = len(self.journal) + 1
        self.journal.append(self.shapes.row(kind, seq, visitor, time.time()))
        self.phase.append(phase)
        self.first_sent.append(0.0)
        self._wake.set()

    # --- what runs for the whole bench ---------------------------------------------------------

    async def serve(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._marks())
            group.create_task(self._send())
            group.create_task(self._resend())
            group.create_task(self._health())
            group.create_task(self._beat())

    async def _marks(self) -> None:
        assert self.client is not None
        async for message in self.client.messages:
            arrived = time.perf_counter()
            self.marks += 1
            try:
                mark = parse(Confirmed, message.payload)
            except PayloadError:
                continue
            if mark.incarnation != self.incarnation or mark.through <= self.floor:
                continue
            for seq in range(self.floor + 1, min(mark.through, len(self.journal)) + 1):
                self.latencies[self.phase[seq - 1]].append(arrived - self.first_sent[seq - 1])
            self.floor = mark.through
            self.sent_through = max(self.sent_through, self.floor)
            self._waiting_since = None if self.floor >= self.sent_through else asyncio.get_running_loop().time()
            self._progress.set()

    async def _send(self) -> None:
        assert self.client is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.sent_through < len(self.journal):
                upto = min(len(self.journal), self.sent_through + self.batch)
                rows = ",".join(self.journal[self.sent_through : upto])
                payload = (f'{{"v":1,"device":"{self.device}","incarnation":"{self.incarnation}",'
                           f'"floor":{self.floor},"events":[{rows}]}}')  # fmt: skip
                now = time.perf_counter()
                for i in range(self.sent_through, upto):
                    self.first_sent[i] = self.first_sent[i] or now
                try:
                    await self.client.publish(self.topics.events(self.device), payload, qos=1, timeout=10)
                except aiomqtt.MqttError:
                    break  # sent again by `_resend`
                self.published += 1
                self.sent_through = upto
                if self._waiting_since is None:
                    self._waiting_since = loop.time()

    async def _resend(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            since = self._waiting_since
            if since is not None and loop.time() - since >= CONFIRM_TIMEOUT_S:
                self.resent += self.sent_through - self.floor
                self.sent_through, self._waiting_since = self.floor, None
                self._wake.set()

    async def _health(self) -> None:
        assert self.client is not None
        await asyncio.sleep(random.uniform(0, HEALTH_EVERY_S))
        while True:
            health = Health(v=1, device=self.device, at=time.time(), software="bench", format=1,
                            payloads=list(READS), outbox=len(self.journal) - self.floor,
                            confirmed_through=self.floor, batch=0, head=0)  # fmt: skip
            with contextlib.suppress(aiomqtt.MqttError):
                await self.client.publish(self.topics.health(self.device), dump(health), qos=1, retain=True)
                self.published += 1
            await asyncio.sleep(HEALTH_EVERY_S)

    async def _beat(self) -> None:
        assert self.client is not None
        await asyncio.sleep(random.uniform(0, BEAT_S))
        while True:
            with contextlib.suppress(aiomqtt.MqttError):
                await self.client.publish(self.topics.online(self.device), b"online", qos=1, retain=True)
                self.published += 1
            await asyncio.sleep(BEAT_S)

    # --- the bench's phases --------------------------------------------------------------------

    async def peak(self, until: float, phase: str) -> None:
        """A visitor every 2-4 s: held at the read, committed at the passage 1-1.8 s later."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(random.uniform(0, 4))  # the lanes out of step
        while loop.time() < until:
            gap = random.uniform(2.0, 4.0)
            passage = random.uniform(1.0, 1.8)
            visitor = Visitor(self.device, self.visitors)
            self.visitors += 1
            self.write("held", visitor, phase)
            await asyncio.sleep(passage)
            self.write("committed", visitor, phase)
            await asyncio.sleep(gap - passage)

    async def flood(self, until: float, window: int, phase: str) -> None:
        """As fast as the hub confirms: `window` rows unconfirmed at all times, one row a message."""
        loop = asyncio.get_running_loop()
        self.batch = 1
        try:
            while loop.time() < until:
                while len(self.journal) - self.floor < window:
                    visitor = Visitor(self.device, self.visitors)
                    self.visitors += 1
                    self.write("held", visitor, phase)
                    self.write("committed", visitor, phase)
                self._progress.clear()
                await self._progress.wait()
        finally:
            self.batch = 200

    @property
    def confirmed(self) -> bool:
        return self.floor >= len(self.journal)


def made(lanes: list[Lane]) -> dict[str, int]:
    """Rows made in each phase, over the lanes."""
    count: dict[str, int] = defaultdict(int)
    for lane in lanes:
        for phase in lane.phase:
            count[phase] += 1
    return count


def check_shape(shapes: Shapes) -> None:
    """A simulated message validates as the hub will validate it (gate/sync/payloads.py)."""
    visitor = Visitor("check", 0)
    rows = ",".join(shapes.row(kind, n + 1, visitor, time.time()) for n, kind in enumerate(("held", "committed")))
    parse(Events, f'{{"v":1,"device":"check","incarnation":"{"0" * 16}","floor":0,"events":[{rows}]}}')
