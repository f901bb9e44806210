"""`gate hub`'s metrics (`[metrics] hub`): what this hub process took in and sent out since it started.

    gate_hub_events_stored_total          events stored, each once (rate(): the ingest rate)
    gate_hub_events_repeated_total        events that arrived again and were already stored
    gate_hub_messages_dropped_total       messages refused (a bad payload, a device that is not its topic's)
    gate_hub_batches_published_total      ledger batches sent on hub/batches
    gate_hub_batch_published_seq          the newest of them
    gate_hub_conflicts_found_total        double uses found (gate/hub/conflicts.py)
    gate_hub_devices_known                devices heard on their presence topic
    gate_hub_devices_online               of them, those whose presence says online
    gate_hub_device_online{device}        1 while that device's presence says online
    gate_hub_link_up                      1 while connected to the broker

Counters are this process's: several hub processes sharing the work (MQTT v5 shared
subscriptions) each count their own share, and Prometheus sums them (`sum(rate(...))`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter

from gate.config_metrics import address
from gate.metrics.registry import Sampled, counter, gauge, new_registry
from gate.metrics.server import MetricsServer

if TYPE_CHECKING:
    from gate.hub.service import HubService


class HubMetrics:
    def __init__(self, service: HubService, *, listen: str) -> None:
        self._service = service
        self.registry = registry = new_registry()
        self._stored = Counter("gate_hub_events_stored", "Events stored, each once: rate() is the ingest rate.",
                               registry=registry)  # fmt: skip
        self._repeated = Counter("gate_hub_events_repeated", "Events that came again, already stored.",
                                 registry=registry)  # fmt: skip
        self._batches = Counter("gate_hub_batches_published", "Ledger batches sent on hub/batches.", registry=registry)
        self._conflicts = Counter("gate_hub_conflicts_found", "Double uses found.", registry=registry)
        self._presence: dict[str, bool] = {}  # device -> online, as its retained presence says
        self._states = Sampled()
        registry.register(self._states)
        site = service.config.sync.site
        self.server = MetricsServer(registry, address(listen), what=f"hub {site}", refresh=self.refresh)

    def stored(self, new: int, received: int) -> None:
        self._stored.inc(new)
        self._repeated.inc(received - new)

    def published(self) -> None:
        self._batches.inc()

    def found(self, conflicts: int) -> None:
        self._conflicts.inc(conflicts)

    def presence(self, device: str, online: bool) -> None:
        self._presence[device] = online

    async def refresh(self) -> None:
        service, presence = self._service, dict(self._presence)
        self._states.families = [
            counter("gate_hub_messages_dropped", "Messages refused: a bad payload, a device not its topic's.", (),
                    [((), float(service.dropped))]),
            gauge("gate_hub_batch_published_seq", "The newest batch sent.", (), [((), float(service.published))]),
            gauge("gate_hub_devices_known", "Devices heard on their presence topic.", (), [((), float(len(presence)))]),
            gauge("gate_hub_devices_online", "Devices whose presence says online.", (),
                  [((), float(sum(presence.values())))]),
            gauge("gate_hub_device_online", "1 while the device's presence says online.", ("device",),
                  (((device,), float(online)) for device, online in sorted(presence.items()))),
            gauge("gate_hub_link_up", "1 while connected to the broker.", (), [((), float(service.link.up))]),
        ]  # fmt: skip
