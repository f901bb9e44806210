"""The topic layout (docs/sync.md), versioned in its first level so a next layout can live beside it.

    gate/v1/<site>/devices/<device>/events     device -> hub   QoS 1        journal rows
    gate/v1/<site>/devices/<device>/online     device          QoS 1 kept   "online"/"offline" (its will)
    gate/v1/<site>/hub/confirmed/<device>      hub -> device   QoS 1 kept   the high-water mark
    gate/v1/<site>/devices/<device>/commands   hub -> device   QoS 1        signed remote commands
    gate/v1/<site>/devices/<device>/results    device -> hub   QoS 1        what became of each

Ids are the config's `Id`s (letters, digits, `-`, `_`, `.`), so no id can hold a `/`, `+` or
`#` and change a topic's meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "gate/v1"


@dataclass(frozen=True, slots=True)
class Topics:
    site: str

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.site}"

    def events(self, device: str) -> str:
        return f"{self.base}/devices/{device}/events"

    def online(self, device: str) -> str:
        return f"{self.base}/devices/{device}/online"

    def health(self, device: str) -> str:
        return f"{self.base}/devices/{device}/health"

    def confirmed(self, device: str) -> str:
        return f"{self.base}/hub/confirmed/{device}"

    @property
    def batches(self) -> str:
        """hub -> devices, QoS 1: the ledger's batches as they are published."""
        return f"{self.base}/hub/batches"

    @property
    def head(self) -> str:
        """hub -> devices, QoS 1, retained: the newest batch's seq and the hub's time."""
        return f"{self.base}/hub/head"

    @property
    def conflicts(self) -> str:
        """hub -> devices, QoS 1, retained: the recent double uses (gate/sync/conflicts.py)."""
        return f"{self.base}/hub/conflicts"

    @property
    def requests(self) -> str:
        """devices -> hub, QoS 1: catch-up requests (MQTT v5 request/response)."""
        return f"{self.base}/hub/requests"

    def responses(self, device: str) -> str:
        """hub -> one device: the answers to its requests."""
        return f"{self.base}/devices/{device}/responses"

    def commands(self, device: str) -> str:
        """hub -> one device: signed remote commands (gate.sync.commands)."""
        return f"{self.base}/devices/{device}/commands"

    def results(self, device: str) -> str:
        """device -> hub: what became of each remote command."""
        return f"{self.base}/devices/{device}/results"

    @property
    def all_results(self) -> str:
        return f"{self.base}/devices/+/results"

    def device_of_results(self, topic: str) -> str | None:
        return self._device_of(topic, "results")

    @property
    def all_health(self) -> str:
        """Every device's health (the hub learns which versions each one reads)."""
        return f"{self.base}/devices/+/health"

    def device_of_health(self, topic: str) -> str | None:
        return self._device_of(topic, "health")

    @property
    def all_online(self) -> str:
        """Every device's presence (its will says offline)."""
        return f"{self.base}/devices/+/online"

    def device_of_online(self, topic: str) -> str | None:
        """The device a presence topic names, or None when `topic` is not one of this site's."""
        return self._device_of(topic, "online")

    @property
    def all_events(self) -> str:
        """What the hub subscribes to: every device's events."""
        return f"{self.base}/devices/+/events"

    def device_of_events(self, topic: str) -> str | None:
        """The device an events topic names, or None when `topic` is not one of this site's."""
        return self._device_of(topic, "events")

    def _device_of(self, topic: str, last: str) -> str | None:
        prefix, suffix = f"{self.base}/devices/", f"/{last}"
        if not (topic.startswith(prefix) and topic.endswith(suffix)):
            return None
        device = topic[len(prefix) : -len(suffix)]
        return device if device and "/" not in device else None
