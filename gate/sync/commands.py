"""Remote commands: the hub asks a device's lane to open once or to change its mode, signed.

The hub signs each command with a key of purpose "command" (`gate hub command`), and gives
it a nonce and an expiry (at most `MAX_LIFETIME_S` after it was issued). It comes on the
device's own commands topic; `gate sync` carries it out only when all of these hold, and
otherwise refuses it with a reason code:

    unsigned, unknown_key, bad_signature   the signature, against `[sync] command_keys` only
    wrong_device, no_such_lane              it names another device, or a lane this one does not run
    bad_expiry                              it lives longer than MAX_LIFETIME_S, or ends before it starts
    clock_untrusted                         this device's clock is further off the hub's than
                                            `[daemon.clock] max_jump_s` (from the head's time)
    expired, not_yet_valid                  the hub's time now (this clock plus the offset) is past
                                            its expiry, or well before it was issued
    replayed                                its nonce was taken before (kept in the ledger until the
                                            expiry: gate/cache/nonces.py), restarts or not

A command that passes takes its nonce (durably, before anything is done: at most once), then
reaches the lane daemon through its control socket as the `hub` audience, which may open once
and set the mode and nothing else; the daemon refuses it too while its own clock is not
trusted. What became of it is journaled (`remote.command`, its reason code: so it reaches the
hub with the other rows) and published on the device's results topic.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import aiomqtt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, model_validator

from gate.cache import Ledger
from gate.config import GateConfig
from gate.records import Id
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import WRITES, Payload, PayloadError, Version, dump, parse
from gate.sync.topics import Topics

log = logging.getLogger("gate.sync")

MAX_LIFETIME_S = 600  # a command's expiry at most this long after it was issued
ANSWER_TIMEOUT_S = 5.0  # the lane daemon's answer on its control socket
Epoch = int  # whole seconds: a command's times sign the same on every machine
Nonce = str
Mode = Literal["normal", "free", "locked", "out_of_order", "emergency"]
Run = Callable[[Callable[[], Any]], Awaitable[Any]]


class RemoteCommand(Payload):
    """hub -> one device: open `lane` once, or set its mode; signed over every other field."""

    v: Version
    device: Id
    lane: Id
    op: Literal["open", "mode"]
    direction: Literal["entry", "exit"] = "entry"  # open
    mode: Mode | None = None  # mode
    reason: str = Field(min_length=1, max_length=200)
    nonce: Nonce = Field(pattern=r"^[0-9a-f]{32}$")
    issued: Epoch = Field(ge=946_684_800, le=4_102_444_800)
    expires: Epoch = Field(ge=946_684_800, le=4_102_444_800)
    key: Id | None = None
    signature: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _mode_with_mode(self) -> Self:
        if (self.op == "mode") != (self.mode is not None):
            raise ValueError("mode: given with op mode, and only then")
        return self

    def request(self) -> dict[str, Any]:
        """What the lane daemon's control socket is sent (the `hub` audience, as this key)."""
        if self.op == "open":
            return {"op": "open", "direction": self.direction, "reason": self.reason, "hub": self.key}
        return {"op": "mode", "mode": self.mode, "reason": self.reason, "hub": self.key}


class CommandResult(Payload):
    """device -> hub: what became of the command with this nonce."""

    v: Version
    device: Id
    nonce: Nonce = Field(pattern=r"^[0-9a-f]{32}$")
    outcome: Literal["done", "refused"]
    reason: str = Field(min_length=1, max_length=64)  # "ok", or why not (a code of the module's doc)
    detail: str = Field(default="", max_length=500)
    at: float = Field(ge=946_684_800, le=4_102_444_800)


def _signed_text(site: str, command: RemoteCommand) -> bytes:
    fields = command.model_dump(mode="json", exclude={"signature"})
    return f"gate-command:v1:{site}:{json.dumps(fields, sort_keys=True, separators=(',', ':'))}".encode()


def sign_command(site: str, command: RemoteCommand, *, key_id: str, key: Ed25519PrivateKey) -> RemoteCommand:
    unsigned = command.model_copy(update={"key": key_id, "signature": ""})
    signature = base64.b64encode(key.sign(_signed_text(site, unsigned))).decode("ascii")
    return unsigned.model_copy(update={"signature": signature})


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Literal["done", "refused"]
    reason: str
    detail: str = ""


def refused(reason: str, detail: str) -> Verdict:
    return Verdict("refused", reason, detail)


def check(site: str, command: RemoteCommand, *, keys: dict[str, str], device: str, lane: str | None,
          now: float, offset: float | None, max_jump_s: float) -> Verdict | None:  # fmt: skip
    """None when `command` may be carried out here and now; else why not (before any nonce is taken).
    `now`: this device's clock; `offset`: the hub's clock minus it, when known."""
    if not command.signature or command.key is None:
        return refused("unsigned", "no signature")
    public = keys.get(command.key)
    if public is None:
        trusted = ", ".join(sorted(keys)) or "none: [sync] command_keys is empty"
        return refused("unknown_key", f"signed by key {command.key!r}; this device obeys {trusted}")
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public, validate=True)).verify(
            base64.b64decode(command.signature, validate=True), _signed_text(site, command)
        )
    except (InvalidSignature, ValueError, binascii.Error):
        return refused("bad_signature", f"its signature does not check out against key {command.key!r}")
    if command.device != device:
        return refused("wrong_device", f"it is for device {command.device!r}")
    if command.lane != lane:
        return refused("no_such_lane", f"lane {command.lane!r}: this device runs {lane or 'no lane'}")
    if not 0 < command.expires - command.issued <= MAX_LIFETIME_S:
        return refused("bad_expiry", f"it lives {command.expires - command.issued} s (at most {MAX_LIFETIME_S})")
    if offset is not None and abs(offset) > max_jump_s:
        return refused("clock_untrusted", f"this device's clock is {-offset:+.0f} s off the hub's")
    hub_now = now + (offset or 0.0)
    if hub_now > command.expires:
        return refused("expired", f"it expired {hub_now - command.expires:.0f} s ago")
    if command.issued > hub_now + max_jump_s:
        return refused("not_yet_valid", f"it was issued {command.issued - hub_now:.0f} s in this clock's future")
    return None


class Remote:
    """The device side: commands in, carried out through the lane daemon, results out."""

    def __init__(
        self, *, config: GateConfig, ledger: Ledger, run: Run, link: Link, topics: Topics, device: str,
        clock_offset: Callable[[], float | None],
    ) -> None:  # fmt: skip
        self._ledger = ledger
        self._run = run
        self._link = link
        self._topics = topics
        self.device = device
        self._keys = dict(config.sync.command_keys)
        self._socket: Path = config.daemon.control_socket
        self._lane = config.daemon.lane or (next(iter(config.lanes)) if len(config.lanes) == 1 else None)
        self._max_jump = config.daemon.clock.max_jump_s
        self._offset = clock_offset
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def topic(self) -> str:
        return self._topics.commands(self.device)

    async def on_message(self, message: aiomqtt.Message) -> None:
        try:
            command = parse(RemoteCommand, message.payload)
        except PayloadError as exc:
            log.warning("sync %s: a message on %s dropped: %s", self.device, self.topic, exc)
            return
        # Its own task: a lane daemon slow to answer never holds up the link's other messages.
        task = asyncio.create_task(self._handle(command), name=f"command-{command.nonce[:8]}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """At a stop: let the commands under way finish (each is bounded by the daemon's answer), so
        none is left with its nonce taken and no journal row."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=ANSWER_TIMEOUT_S + 5)

    async def _handle(self, command: RemoteCommand) -> None:
        now = time.time()
        verdict = check(self._topics.site, command, keys=self._keys, device=self.device, lane=self._lane, now=now,
                        offset=self._offset(), max_jump_s=self._max_jump)  # fmt: skip
        if verdict is None:
            nonces = self._ledger.outbox().nonces()
            fresh = await self._run(lambda: nonces.take(command.nonce, expires=command.expires, now=now))
            verdict = await self._carry_out(command) if fresh else refused("replayed", "its nonce was used before")
        await self._answer(command, verdict)

    async def _carry_out(self, command: RemoteCommand) -> Verdict:
        from gate.daemon.control import DaemonUnreachable, request  # noqa: PLC0415 - the daemon's client, only here

        try:
            answer = await asyncio.to_thread(request, self._socket, command.request(), timeout=ANSWER_TIMEOUT_S)
        except DaemonUnreachable as exc:
            return refused("lane_unreachable", str(exc))
        if answer.get("ok"):
            return Verdict("done", "ok")
        return refused("lane_refused", str(answer.get("error", "no reason given"))[:400])

    async def _answer(self, command: RemoteCommand, verdict: Verdict) -> None:
        what = command.mode if command.op == "mode" else command.direction
        body = {"nonce": command.nonce, "op": command.op, "what": what, "key": command.key, "why": command.reason,
                "outcome": verdict.outcome, "detail": verdict.detail, "expires": command.expires}  # fmt: skip
        at = dt.datetime.now(dt.UTC)
        ledger = self._ledger
        await self._run(lambda: ledger.record_event("remote.command", at=at, lane=command.lane, reason=verdict.reason,
                                                    body=body))  # fmt: skip
        (log.info if verdict.outcome == "done" else log.warning)(
            "sync %s: remote command %s %s (%s) %s: %s %s", self.device, command.op, what, command.nonce[:8],
            verdict.outcome, verdict.reason, verdict.detail,
        )  # fmt: skip
        result = CommandResult(v=WRITES, device=self.device, nonce=command.nonce, outcome=verdict.outcome,
                               reason=verdict.reason, detail=verdict.detail[:500], at=at.timestamp())  # fmt: skip
        with contextlib.suppress(LinkDown):  # lost: the journal row reaches the hub all the same
            await self._link.publish(self._topics.results(self.device), dump(result))
