"""`gate hub command DEVICE open LANE | mode LANE MODE`: a signed remote command, and its answer.

The command is signed with the hub's command key (`[hub] command_key_file`, a PEM of mode 0600
from `gate keys generate --purpose command`), given a random nonce and an expiry, and put in
the hub's store; the running `gate hub` sends it on the device's commands topic within a
fraction of a second (`HubCommands.send`), and keeps the device's answer from its results
topic, which `gate hub command` waits for. What a device checks: gate/sync/commands.py.

The hub also learns here each device's versions from its health messages (gate/hub/versions.py).
"""

from __future__ import annotations

import logging
import secrets
import time

from gate.config import GateConfig
from gate.errors import GateError
from gate.hub.registry import Answer
from gate.hub.signing import private_key
from gate.hub.store import HubStore, open_store
from gate.sync.commands import MAX_LIFETIME_S, CommandResult, Mode, RemoteCommand, sign_command
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import WRITES, Health, PayloadError, dump, parse
from gate.sync.topics import Topics

log = logging.getLogger("gate.hub")

DEFAULT_LIFETIME_S = 60


class CommandError(GateError):
    """The hub cannot sign this command (no key, a key others may read, a bad argument)."""


def make(config: GateConfig, *, device: str, lane: str, op: str, reason: str, mode: Mode | None = None,
         direction: str = "entry", lifetime_s: int = DEFAULT_LIFETIME_S) -> RemoteCommand:  # fmt: skip
    """The command, signed, and kept in the hub's store for `gate hub` to send."""
    key = private_key(config.hub.command_key_file, what="hub.command_key_file", purpose="command", error=CommandError)
    if not 1 <= lifetime_s <= MAX_LIFETIME_S:
        raise CommandError(f"--expires-in: 1 to {MAX_LIFETIME_S} s (a device refuses longer-lived commands)")
    now = int(time.time())
    try:
        unsigned = RemoteCommand.model_validate({
            "v": WRITES, "device": device, "lane": lane, "op": op, "mode": mode, "direction": direction,
            "reason": reason, "nonce": secrets.token_hex(16), "issued": now, "expires": now + lifetime_s,
        })  # fmt: skip
    except ValueError as exc:
        raise CommandError(str(exc).splitlines()[-1] if str(exc) else "not a command") from None
    command = sign_command(config.sync.site, unsigned, key_id=config.hub.command_key_id, key=key)
    store = open_store(config)
    try:
        store.add_command(command)
    finally:
        store.close()
    return command


def wait(config: GateConfig, nonce: str, *, timeout: float) -> Answer | str:
    """The device's answer to the command `nonce`, or why none came within `timeout` s. A command
    the hub has not even sent by then is withdrawn: it must not open a lane later, unawaited."""
    store = open_store(config)
    try:
        deadline = time.monotonic() + timeout
        while True:
            found = store.answer(nonce)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                if store.withdraw(nonce):
                    return "the hub did not send it (is gate hub running?): withdrawn"
                return "sent, not answered yet (is the device's gate sync running?); it may still be carried out"
            time.sleep(0.1)
    finally:
        store.close()


class HubCommands:
    """The running hub's side: commands out, devices' answers and health in."""

    def __init__(self, *, topics: Topics, link: Link) -> None:
        self._topics = topics
        self._link = link

    @property
    def subscriptions(self) -> list[str]:
        return [self._topics.all_results, self._topics.all_health]

    def handles(self, topic: str) -> bool:
        return self._topics.device_of_results(topic) is not None or self._topics.device_of_health(topic) is not None

    def answered(self, store: HubStore, topic: str, payload: object) -> str | None:
        """On the store's thread: a device's answer or health kept; None, or why it was dropped."""
        device = self._topics.device_of_results(topic)
        try:
            if device is not None:
                result = parse(CommandResult, payload)
                if result.device != device:
                    return f"it names device {result.device!r}, its topic {device!r}"
                if store.command_answered(result):
                    log.info("hub: command %s at %s: %s %s %s", result.nonce[:8], device, result.outcome,
                             result.reason, result.detail)  # fmt: skip
                return None
            device = self._topics.device_of_health(topic)
            health = parse(Health, payload)
            if health.device != device:
                return f"it names device {health.device!r}, its topic {device!r}"
            store.note_device(health)
        except PayloadError as exc:
            return str(exc)
        return None

    async def send(self, commands: list[RemoteCommand], sent: list[str]) -> None:
        """Publish `commands`; each one's nonce that went out is added to `sent`."""
        for command in commands:
            try:
                await self._link.publish(self._topics.commands(command.device), dump(command))
            except LinkDown:
                return
            sent.append(command.nonce)
            log.info("hub: command %s %s to %s lane %s sent", command.nonce[:8], command.op, command.device,
                     command.lane)  # fmt: skip
