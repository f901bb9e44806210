"""The [metrics] and [homeassistant] sections (docs/observability.md); gate.config holds them.

Both are off by default. `[metrics]` names one address per process, because a device runs
several processes on one config file (its lane daemon, and `gate sync` beside it): each one
serves its own `/metrics` on its own port and Prometheus scrapes each as a target of its own.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, NamedTuple

from pydantic import AfterValidator, Field

from gate.config_fields import Line, Section, _host, short


class Address(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def address(text: str) -> Address:
    """`host:port` (`[::1]:9110` for IPv6) as an Address; ValueError in an operator's words."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit() or int(port) > 65_535:
        raise ValueError(f"not host:port: {short(text)} (e.g. 127.0.0.1:9110, [::1]:9110, 0.0.0.0:9110)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"not an IPv6 address in brackets: {short(text)}") from None
    elif ":" in host or not host:
        raise ValueError(f"not host:port: {short(text)} (an IPv6 address goes in brackets: [::1]:9110)")
    else:
        _host(host)  # the config's own rule for a host, as [display] host has it
    return Address(host, int(port))


def _listen(text: str) -> str:
    address(text)
    return text


# An address to listen on, `host:port` (port 0: any free port, said in the log).
Listen = Annotated[str, AfterValidator(_listen)]


class MetricsConfig(Section):
    """Prometheus endpoints (`GET /metrics`), one per process; a process without its key serves none."""

    daemon: Listen | None = Field(
        default=None,
        description="Where the lane daemon (`gate run`) serves its metrics, `host:port` (e.g. `0.0.0.0:9110`): "
        "decisions by verdict and reason, passages, read-to-relay and read-to-screen times, readers, clock.",
    )  # fmt: skip
    sync: Listen | None = Field(
        default=None,
        description="Where `gate sync` serves its metrics (e.g. `0.0.0.0:9111`): outbox depth, batches behind "
        "the hub, conflicts known, the link, storage free.",
    )  # fmt: skip
    hub: Listen | None = Field(
        default=None,
        description="Where `gate hub` serves its metrics (e.g. `0.0.0.0:9112`): events stored, devices known and "
        "online, batches published, conflicts found.",
    )  # fmt: skip


def _prefix_problem(text: str) -> bool:
    return not text or any(not (c.isascii() and (c.isalnum() or c in "-_")) for c in text)


def _prefix(text: str) -> str:
    if _prefix_problem(text):
        raise ValueError(f"letters, digits, - and _ only: {short(text)}")
    return text


class HomeAssistantConfig(Section):
    """Home Assistant's MQTT device discovery, published by `gate sync`: read-only sensors."""

    discovery: bool = Field(
        default=False,
        description="Publish this device to Home Assistant (retained on `<prefix>/device/<device id>/config`) "
        "with its state on `gate/v1/<site>/devices/<device id>/state`: lane mode, occupancy, last verdict and "
        "reason code, online. No command is taken. Needs a device id of letters, digits, - and _ only.",
    )  # fmt: skip
    prefix: Annotated[str, AfterValidator(_prefix)] = Field(
        default="homeassistant", max_length=64, description="Home Assistant's discovery prefix (its MQTT option)."
    )
    name: Line | None = Field(
        default=None, max_length=100, description="The device's name in Home Assistant; none: `gate <device id>`."
    )

    def problems(self, device: str | None) -> list[str]:
        """What discovery cannot run with (Home Assistant takes `[A-Za-z0-9_-]` in a discovery topic)."""
        if self.discovery and device is not None and _prefix_problem(device):
            return [f"homeassistant.discovery: device.id {device!r}: Home Assistant's discovery topic takes "
                    "letters, digits, - and _ only"]  # fmt: skip
        return []
