"""Prometheus metrics, each process its own endpoint (docs/observability.md, `[metrics]`).

A device runs a lane daemon (`gate run`) and `gate sync` on one config and one ledger; each
serves its own `GET /metrics` on the address `[metrics] daemon` or `[metrics] sync` names,
and `gate hub` on `[metrics] hub`. Off unless named. prometheus_client is imported only by a
process that serves metrics (gate/metrics/lane.py, sync.py, hub.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from gate.cache import Ledger
from gate.config import ConfigError, GateConfig

if TYPE_CHECKING:
    from gate.hub.service import HubService
    from gate.metrics.hub import HubMetrics
    from gate.metrics.lane import LaneMetrics
    from gate.metrics.server import MetricsServer
    from gate.metrics.sync import SyncMetrics
    from gate.sync.down import Run
    from gate.sync.service import SyncService


def lane_metrics(config: GateConfig, lane: str) -> LaneMetrics | None:
    """The lane daemon's metrics when `[metrics] daemon` names an address, else None."""
    listen = config.metrics.daemon
    if listen is None:
        return None
    from gate.metrics.lane import LaneMetrics  # noqa: PLC0415 - prometheus_client only when served

    return LaneMetrics(lane, listen=listen)


def sync_metrics(config: GateConfig, service: SyncService, *, ledger: Ledger, run: Run) -> SyncMetrics | None:
    """`gate sync`'s metrics when `[metrics] sync` names an address, else None."""
    listen = config.metrics.sync
    if listen is None:
        return None
    from gate.metrics.sync import SyncMetrics  # noqa: PLC0415 - prometheus_client only when served

    return SyncMetrics(service, listen=listen, ledger=ledger, run=run)


def hub_metrics(config: GateConfig, service: HubService) -> HubMetrics | None:
    """`gate hub`'s metrics when `[metrics] hub` names an address, else None."""
    listen = config.metrics.hub
    if listen is None:
        return None
    from gate.metrics.hub import HubMetrics  # noqa: PLC0415 - prometheus_client only when served

    return HubMetrics(service, listen=listen)


class Served(Protocol):
    @property
    def server(self) -> MetricsServer: ...


@contextlib.asynccontextmanager
async def serving(metrics: Served | None, *, key: str, source: str) -> AsyncIterator[None]:
    """The metrics' server listening while the block runs (nothing when None); an address it
    cannot listen on is the config's problem, said with its key (`metrics.sync: cannot listen on ...`)."""
    if metrics is None:
        yield
        return
    server = metrics.server
    from gate.metrics.server import MetricsError  # noqa: PLC0415

    try:
        await server.__aenter__()
    except MetricsError as exc:
        raise ConfigError(source, [f"{key}: {exc}"]) from exc
    try:
        yield
    finally:
        await server.__aexit__(None, None, None)
