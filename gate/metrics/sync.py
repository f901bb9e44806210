"""`gate sync`'s metrics (`[metrics] sync`): how far this device is from the hub, sampled at each scrape.

    gate_sync_link_up                     1 while connected to the broker
    gate_sync_online                      1 while online: connected, and the hub or a peer heard lately
    gate_sync_outbox_rows                 journal rows the hub has not confirmed
    gate_sync_confirmed_seq               every journal row up to this seq is at the hub
    gate_sync_batch_applied / _head       the hub's ledger batch applied here, and the hub's newest
    gate_sync_batches_behind              head - applied: the sequence lag
    gate_sync_clock_offset_seconds        the hub's clock minus this device's (when a live head said)
    gate_sync_conflicts_known             the hub's recent double uses this device knows (sync.conflicts)
    gate_sync_ledger_problem              1 while the last batch was refused (sync.ledger_problem says why)
    gate_sync_rows_sent_total, gate_sync_peer_rows_total, gate_sync_connections_total
    gate_storage_free_bytes               free space on the ledger's file system

The ledger is read on the sync process's own ledger thread (`run`), like everything it does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gate.cache import Ledger
from gate.config_metrics import address
from gate.metrics.registry import Sampled, counter, free_bytes, gauge, new_registry
from gate.metrics.server import MetricsServer
from gate.sync.conflicts import CONFLICTS, stored
from gate.sync.down import Run

if TYPE_CHECKING:
    from gate.sync.service import SyncService


class SyncMetrics:
    def __init__(self, service: SyncService, *, listen: str, ledger: Ledger, run: Run) -> None:
        self._service = service
        self._ledger = ledger
        self._run = run
        self.registry = new_registry()
        self._states = Sampled()
        self.registry.register(self._states)
        self.server = MetricsServer(self.registry, address(listen), what=f"sync {service.device}", refresh=self.refresh)

    def _read(self) -> tuple[int, str | None, str | None, str | None, list[tuple[tuple[str, ...], float]]]:
        ledger = self._ledger
        return (ledger.outbox().depth(), ledger.setting(CONFLICTS), ledger.setting("sync.link"),
                ledger.setting("sync.ledger_problem"), [(tuple(k), v) for k, v in free_bytes(ledger.path)])  # fmt: skip

    async def refresh(self) -> None:
        service = self._service
        link, downlink, publisher = service.link, service.downlink, service.publisher
        depth, conflicts, online, problem, free = await self._run(self._read)
        applied, head = (downlink.seq, downlink.head) if downlink is not None else (0, 0)
        offset = downlink.clock_offset_s if downlink is not None else None
        self._states.families = [
            gauge("gate_sync_link_up", "1 while connected to the broker.", (), [((), float(bool(link and link.up)))]),
            gauge("gate_sync_online", "1 while online: connected, and the hub or a peer heard lately.", (),
                  [((), float(online == "up"))]),
            gauge("gate_sync_outbox_rows", "Journal rows the hub has not confirmed yet.", (), [((), float(depth))]),
            gauge("gate_sync_confirmed_seq", "Every journal row up to this seq is held by the hub.", (),
                  [((), float(publisher.floor if publisher is not None else 0))]),
            gauge("gate_sync_batch_applied", "The hub's ledger batch applied here last.", (), [((), float(applied))]),
            gauge("gate_sync_batch_head", "The hub's newest ledger batch, as its head said.", (), [((), float(head))]),
            gauge("gate_sync_batches_behind", "Batches the hub has that are not applied here (head - applied).", (),
                  [((), float(max(0, head - applied)))]),
            gauge("gate_sync_clock_offset_seconds", "The hub's clock minus this device's, from a live head.", (),
                  [((), offset)] if offset is not None else []),
            gauge("gate_sync_conflicts_known", "The hub's recent double uses this device knows (sync.conflicts).",
                  (), [((), float(len(stored(conflicts))))]),
            gauge("gate_sync_ledger_problem", "1 while the last batch was refused (sync.ledger_problem says why).",
                  (), [((), float(bool(problem)))]),
            counter("gate_sync_rows_sent", "Journal rows published (a row sent again counts again).", (),
                    [((), float(publisher.sent if publisher is not None else 0))]),
            counter("gate_sync_peer_rows", "Peers' rows that changed usage here.", (), [((), service.peer_rows)]),
            counter("gate_sync_connections", "Connections made to the broker.", (),
                    [((), float(link.connections if link is not None else 0))]),
            gauge("gate_storage_free_bytes", "Bytes free on the ledger's file system.", (), free),
        ]  # fmt: skip
