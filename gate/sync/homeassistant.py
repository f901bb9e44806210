"""Home Assistant's MQTT device discovery, published by `gate sync` (`[homeassistant] discovery`): read-only.

One retained message per device on `<prefix>/device/<device id>/config`, in the device-based
discovery format of Home Assistant 2024.11 and later (`dev`, `o`, and the components under
`cmps`, each with its platform `p` and `unique_id`), published at every connection and again
when Home Assistant's status topic (`<prefix>/status`) says `online` live (its birth message
after a restart). Its sensors read one retained state message of ours, versioned like every
payload, on `gate/v1/<site>/devices/<device>/state`:

    {"v": 1, "device": "lane-north-1", "at": 1764849600.0, "occupancy": 42,
     "lanes": {"north-1": {"mode": "normal", "verdict": "deny", "reason": "already_used"}}}

published when it changes (looked at every `STATE_EVERY_S`), read from the ledger on the sync
process's ledger thread: the mode staff set (`lane.<id>.mode`, emergency while the journal's
newest fire row is an alarm), the site's occupancy counter, and each lane's newest decision in
the journal (its verdict and reason code only: never an entitlement, a code or a name). The
device's availability is its online topic, which the broker sets to `offline` by its will.

No component has a command topic and nothing but the status topic is read: Home Assistant
sees the gates, it never drives them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from importlib.metadata import version
from typing import Any, Literal, get_args

import aiomqtt
from pydantic import Field

from gate.cache import Ledger, LedgerError
from gate.config import GateConfig
from gate.reasons import Reason, Verdict
from gate.records import Id
from gate.sync.down import Run
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import Payload, dump
from gate.sync.topics import Topics

log = logging.getLogger("gate.sync")

STATE_EVERY_S = 2.0  # how often the ledger is looked at for a changed state
WINDOW = 2000  # journal rows read back when sync starts, for each lane's newest decision
_DECIDED = {"redemption.held": Verdict.ADMIT, "refusal": Verdict.DENY, "attention": Verdict.ATTENTION}
_FIRE = {"fire.alarm": True, "fire.clear": False}
_REASONS = frozenset(Reason)


Mode = Literal["normal", "free", "locked", "out_of_order", "emergency"]  # gate.point.model.LaneMode's values
MODES: tuple[Mode, ...] = get_args(Mode)


class LaneState(Payload):
    mode: Mode
    verdict: Literal["admit", "deny", "attention"] | None = None  # the newest decision's
    reason: str | None = Field(default=None, max_length=64)  # its reason code (docs/reasons.md)


class DeviceState(Payload):
    """The device as Home Assistant shows it (docs/observability.md)."""

    v: Literal[1]
    device: Id
    at: float = Field(ge=946_684_800, le=4_102_444_800)
    occupancy: int = Field(ge=0, le=10_000_000)
    lanes: dict[Id, LaneState] = Field(max_length=1000)


def subscriptions(config: GateConfig) -> list[str]:
    """What `gate sync` subscribes to for Home Assistant: its status topic, when discovery is on."""
    settings = config.homeassistant
    return [f"{settings.prefix}/status"] if settings.discovery else []


def lanes_of(config: GateConfig) -> list[str]:
    """The lanes this device serves: its daemon's (`[daemon] lane`, or the only one), else every lane."""
    lane = config.daemon_lane()
    return [lane] if lane is not None else list(config.lanes)


class Journal:
    """Each lane's newest decision and fire state, from the journal rows as they are written."""

    def __init__(self, lanes: list[str]) -> None:
        self.decided: dict[str, tuple[Verdict, str | None]] = {}
        self.fire: dict[str, bool] = {}
        self._lanes = set(lanes)
        self._after: int | None = None  # the newest row read

    def read(self, ledger: Ledger) -> None:
        """The rows written since the last call (the last WINDOW at the first); on the ledger thread."""
        newest = ledger.outbox().newest()
        if self._after is None or newest < self._after:  # the first call, or a ledger rebuilt or restored
            self._after = max(0, newest - WINDOW)
        while rows := ledger.journal(after=self._after, limit=500):
            for row in rows:
                if row.lane not in self._lanes:
                    continue
                if (verdict := _DECIDED.get(row.type)) is not None:
                    self.decided[row.lane] = (verdict, row.reason if row.reason in _REASONS else None)
                elif (alarm := _FIRE.get(row.type)) is not None:
                    self.fire[row.lane] = alarm
            self._after = rows[-1].seq


class HomeAssistant:
    def __init__(
        self, *, config: GateConfig, ledger: Ledger, run: Run, link: Link, topics: Topics, device: str,
    ) -> None:  # fmt: skip
        self._config = config
        self._ledger = ledger
        self._run = run
        self._link = link
        self._device = device
        self._online = topics.online(device)
        self.lanes = lanes_of(config)
        self._journal = Journal(self.lanes)
        prefix = config.homeassistant.prefix
        self.status_topic = f"{prefix}/status"
        self.config_topic = f"{prefix}/device/{device}/config"
        self.state_topic = f"{topics.base}/devices/{device}/state"
        self._sent: DeviceState | None = None  # the state last published (its `at` aside)
        self._unread = False  # the state could not be read: said once, and once when it can again
        self.announced = 0  # discovery messages published (tests, status)

    def handles(self, topic: str) -> bool:
        return topic == self.status_topic

    async def on_message(self, message: aiomqtt.Message) -> None:
        """Home Assistant's status: `online` said live (it has just started) asks for the device again.
        A retained one is old news: every connection announces anyway."""
        if message.payload == b"online" and not message.retain:
            log.info("sync %s: Home Assistant is online: the device announced again", self._device)
            await self.announce()

    async def announce(self) -> None:
        """The discovery message (retained), then the state it points at."""
        try:
            await self._link.publish(self.config_topic, json.dumps(self.discovery()).encode(), retain=True)
        except LinkDown:
            return  # the next connection announces it
        self.announced += 1
        self._sent = None
        await self.publish_state()

    async def run(self) -> None:
        """The state, published whenever it changes."""
        while True:
            if self._link.up:
                await self.publish_state()
            await asyncio.sleep(STATE_EVERY_S)

    async def publish_state(self) -> None:
        try:
            state = await self._run(self._read)
        except (LedgerError, ValueError) as exc:  # a storage fault, say: looked at again next time
            if not self._unread:
                log.warning("sync %s: the state for Home Assistant cannot be read: %s", self._device, exc)
            self._unread = True
            return
        if self._unread:
            log.info("sync %s: the state for Home Assistant is read again", self._device)
        self._unread = False
        if self._sent is not None and state.model_copy(update={"at": self._sent.at}) == self._sent:
            return
        try:
            await self._link.publish(self.state_topic, dump(state), retain=True)
        except LinkDown:
            return
        self._sent = state

    def _read(self) -> DeviceState:
        from gate.point import modes  # noqa: PLC0415 - the decision point's package, only when discovery is on

        ledger, config = self._ledger, self._config
        self._journal.read(ledger)
        turnstile = config.turnstile
        lanes = {}
        for lane in self.lanes:
            stored = modes.load_mode(ledger, lane)
            first = turnstile.first_mode if turnstile is not None and not config.lanes[lane].kiosk else "normal"
            mode = "emergency" if self._journal.fire.get(lane) else (stored.mode.value if stored else first)
            verdict, reason = self._journal.decided.get(lane, (None, None))
            lanes[lane] = LaneState(mode=mode, verdict=verdict.value if verdict else None, reason=reason)
        return DeviceState(v=1, device=self._device, at=time.time(), occupancy=ledger.inside(), lanes=lanes)

    def discovery(self) -> dict[str, Any]:
        """The device-based discovery payload (Home Assistant 2024.11+): abbreviated keys as its docs give them."""
        device, software = self._device, version("gate")
        available = {"availability_topic": self._online, "payload_available": "online",
                     "payload_not_available": "offline"}  # fmt: skip
        components: dict[str, dict[str, Any]] = {}
        for lane in self.lanes:
            key = re.sub(r"[^A-Za-z0-9_-]", "_", lane)
            this = f"value_json.lanes[{json.dumps(lane)}]"
            components[f"{key}_mode"] = {
                "p": "sensor", "name": f"{lane} mode", "unique_id": f"gate_{device}_{key}_mode",
                "device_class": "enum", "options": list(MODES), "icon": "mdi:boom-gate",
                "value_template": f"{{{{ {this}.mode }}}}", **available,
            }  # fmt: skip
            components[f"{key}_verdict"] = {
                "p": "sensor", "name": f"{lane} last verdict", "unique_id": f"gate_{device}_{key}_verdict",
                "device_class": "enum", "options": [v.value for v in Verdict],
                "value_template": f"{{{{ {this}.verdict }}}}", **available,
            }  # fmt: skip
            components[f"{key}_reason"] = {
                "p": "sensor", "name": f"{lane} last reason", "unique_id": f"gate_{device}_{key}_reason",
                "device_class": "enum", "options": [r.value for r in Reason],
                "value_template": f"{{{{ {this}.reason }}}}", **available,
            }  # fmt: skip
        components["occupancy"] = {
            "p": "sensor", "name": "occupancy", "unique_id": f"gate_{device}_occupancy", "state_class": "measurement",
            "icon": "mdi:account-group", "value_template": "{{ value_json.occupancy }}", **available,
        }  # fmt: skip
        components["online"] = {
            "p": "binary_sensor", "name": "online", "unique_id": f"gate_{device}_online",
            "device_class": "connectivity", "entity_category": "diagnostic", "state_topic": self._online,
            "payload_on": "online", "payload_off": "offline",
        }  # fmt: skip
        settings = self._config.homeassistant
        return {
            "dev": {"ids": [f"gate_{device}"], "name": settings.name or f"gate {device}", "mf": "gate",
                    "mdl": "entrance device", "sw": software},
            "o": {"name": "gate", "sw": software},
            "cmps": components,
            "state_topic": self.state_topic,
            "qos": 1,
        }  # fmt: skip
