"""Prometheus metrics, each process its own endpoint (docs/observability.md, `[metrics]`).

A device runs a lane daemon (`gate run`) and `gate sync` on one config and one ledger; each
serves its own `GET /metrics` on the address `[metrics] daemon` or `[metrics] sync` names,
and `gate hub` on `[metrics] hub`. Off unless named. prometheus_client is imported only by a
process that serves metrics (gate/metrics/lane.py, sync.py, hub.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gate.config import GateConfig

if TYPE_CHECKING:
    from gate.metrics.lane import LaneMetrics


def lane_metrics(config: GateConfig, lane: str) -> LaneMetrics | None:
    """The lane daemon's metrics when `[metrics] daemon` names an address, else None."""
    listen = config.metrics.daemon
    if listen is None:
        return None
    from gate.metrics.lane import LaneMetrics  # noqa: PLC0415 - prometheus_client only when served

    return LaneMetrics(lane, listen=listen)
