"""The MQTT link of a sync process (or the hub): one broker, MQTT v5, a persistent session, and back.

aiomqtt 2 makes one connection per `Client` and never reconnects by itself, so `Link.run`
loops: connect, subscribe again (a broker killed with -9 loses recently saved sessions, so
never trust the session to hold the subscriptions), say "online" (retained; the will says
"offline"), hand every message to `on_message`, and when the connection goes, wait a capped
backoff with jitter (so a fleet does not reconnect in step) and start over.

- **Persistent session**: `clean_start=False` with a session expiry; aiomqtt's default,
  clean start on a new client's first connection, would drop the session at every restart.
- **Secrets**: the password is read from its file at each connection (a rotated file is
  picked up); a file another user may read is refused (`LinkError`); it never reaches a log.
- **Publishing** goes through `publish`, which raises `LinkDown` while there is no
  connection: the caller keeps what it could not send (the journal is the outbox).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import ssl
import stat
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gate.backoff import Backoff
from gate.config_sync import SyncConfig
from gate.errors import GateError

log = logging.getLogger("gate.sync")

# Small messages go at once: with Nagle's algorithm a request and its answer each wait for the
# peer's delayed ACK, some 40 ms a hop (the broker needs `set_tcp_nodelay true` too: docs/sync.md).
NO_DELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)
PUBLISH_TIMEOUT_S = 10.0


class LinkError(GateError):
    """The link cannot even be tried (an unreadable or too open password file, a bad TLS file)."""


class LinkDown(GateError, ConnectionError):
    """No connection to the broker right now: keep the message for later."""


Handler = Callable[[aiomqtt.Message], Awaitable[None]]
Hook = Callable[[], Coroutine[Any, Any, None]]


def read_private(path: Path, *, what: str) -> bytes:
    """A secret file's bytes (a password, a private key): mode 0600 (or 0400), or a systemd
    credential; LinkError naming `what` and the file otherwise. Its content is never logged."""
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) and not os.environ.get("CREDENTIALS_DIRECTORY"):
            raise LinkError(f"{what} {path}: readable by others (mode {stat.S_IMODE(info.st_mode):o}): chmod 600 it")
        return path.read_bytes()
    except OSError as exc:
        raise LinkError(f"{what} {path}: {exc.strerror or exc}") from exc


def read_secret(path: Path, *, what: str) -> str:
    """The first line of a secret file (read_private)."""
    lines = read_private(path, what=what).decode("utf-8").splitlines()
    return lines[0].strip() if lines else ""


class Link:
    """A reconnecting MQTT link; `run()` until cancelled, `publish()` while `up`."""

    def __init__(
        self, settings: SyncConfig, *, identifier: str, online_topic: str, subscriptions: Sequence[str],
        on_message: Handler, on_up: Hook | None = None, on_down: Hook | None = None,
    ) -> None:  # fmt: skip
        self._settings = settings
        self.identifier = identifier
        self._online = online_topic
        self._subscriptions = tuple(subscriptions)
        self._on_message = on_message
        self._on_up = on_up
        self._on_down = on_down
        self._client: aiomqtt.Client | None = None
        self._backoff = Backoff(initial=0.5, cap=settings.reconnect_max_s)
        self.connections = 0  # successful connections since the start (tests, status)

    @property
    def up(self) -> bool:
        return self._client is not None

    async def publish(
        self, topic: str, payload: bytes, *, retain: bool = False, response_topic: str | None = None,
        correlation: bytes | None = None,
    ) -> None:  # fmt: skip
        """QoS 1: returns once the broker acknowledged it (which is not yet durability: the
        hub's confirmation is); LinkDown when there is no connection. `response_topic` and
        `correlation`: MQTT v5 request/response (a catch-up asked, a catch-up answered)."""
        client = self._client
        if client is None:
            raise LinkDown("not connected to the broker")
        properties = None
        if response_topic is not None or correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            if response_topic is not None:
                properties.ResponseTopic = response_topic
            if correlation is not None:
                properties.CorrelationData = correlation
        try:
            await client.publish(topic, payload, qos=1, retain=retain, properties=properties,
                                 timeout=PUBLISH_TIMEOUT_S)  # fmt: skip
        except aiomqtt.MqttError as exc:
            raise LinkDown(f"publish failed: {exc}") from exc

    async def run(self) -> None:
        """Connect, serve, reconnect, until cancelled."""
        while True:
            try:
                await self._session()
            except aiomqtt.MqttError as exc:
                log.warning("sync %s: broker %s:%d: %s", self.identifier, self._settings.host, self._settings.port, exc)
            delay = self._backoff.delay() * random.uniform(0.5, 1.0)  # jitter: a fleet does not come back in step
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        settings = self._settings
        password = read_secret(settings.password_file, what="sync.password_file") if settings.password_file else None
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = settings.session_expiry_s
        will = aiomqtt.Will(self._online, b"offline", qos=1, retain=True)
        client = aiomqtt.Client(
            settings.host, settings.port, username=settings.username, password=password,
            identifier=self.identifier, protocol=aiomqtt.ProtocolVersion.V5, clean_start=False,
            properties=properties, keepalive=settings.keepalive_s, will=will, timeout=settings.connect_timeout_s,
            tls_context=self._tls(), logger=logging.getLogger("gate.sync.mqtt"), socket_options=NO_DELAY,
        )  # fmt: skip
        async with client:
            for topic in self._subscriptions:  # on every connect: the session may have been lost
                await client.subscribe(topic, qos=1, timeout=settings.connect_timeout_s)
            await client.publish(self._online, b"online", qos=1, retain=True, timeout=PUBLISH_TIMEOUT_S)
            self._client = client
            self.connections += 1
            self._backoff.reset()
            log.info("sync %s: connected to %s:%d", self.identifier, settings.host, settings.port)
            # What a connection starts (the outbox sent again...) runs beside the messages: a link
            # lost meanwhile ends the iteration at once, not after a publish's timeout.
            up: asyncio.Task[None] | None = None
            if self._on_up is not None:
                up = asyncio.create_task(self._on_up(), name="link-up")
                up.add_done_callback(self._up_done)
            try:
                async for message in client.messages:
                    await self._on_message(message)
            finally:
                if up is not None:
                    up.cancel()
                self._client = None
                log.info("sync %s: disconnected", self.identifier)
                if self._on_down is not None:
                    await self._on_down()

    def _up_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("sync %s: what a new connection starts failed: %r", self.identifier, exc)

    def _tls(self) -> ssl.SSLContext | None:
        tls = self._settings.tls
        if tls is None:
            return None
        try:
            context = ssl.create_default_context(cafile=str(tls.ca_file))
            if tls.cert_file is not None:
                context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise LinkError(f"sync.tls: {exc}") from exc
        return context
