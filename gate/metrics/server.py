"""`MetricsServer`: `GET /metrics` inside the process's own event loop, as an async context manager.

The same aiohttp order as the screens (gate/display/server.py): `AppRunner.setup()`, a
`TCPSite` on the configured address, `AppRunner.cleanup()` at the end, so the endpoint stops
with the process and never owns its loop or its signals. Before each answer `refresh` samples
the states (gate/metrics/registry.py `Sampled`); a refresh that fails is logged and the last
values are served, so a scrape never fails because the ledger was busy.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from gate.config_metrics import Address
from gate.errors import GateError

log = logging.getLogger("gate.metrics")

SHUTDOWN_S = 1.0  # a scrape in flight at the stop gets this long


class MetricsError(GateError, OSError):
    """The endpoint cannot listen where the config says (the port in use, an address not here)."""


class MetricsServer:
    def __init__(
        self, registry: CollectorRegistry, address: Address, *, what: str,
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:  # fmt: skip
        self.registry = registry
        self.address = address
        self.what = what  # "lane l1", "sync d1", "hub s1": for the log
        self._refresh = refresh
        self._runner: web.AppRunner | None = None
        self._failing = False  # a refresh failed: said once, and once when it works again
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.address.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/metrics"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_S)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.address.host, self.address.port, reuse_address=True)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            raise MetricsError(f"cannot listen on {self.address}: {why}") from exc
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics %s: serving %s", self.what, self.url)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        if self._refresh is not None:
            try:
                await self._refresh()
            except Exception as exc:  # the last values are served; the log says why once
                if not self._failing:
                    log.warning("metrics %s: states not sampled (%s: %s); serving the last ones", self.what,
                                type(exc).__name__, exc)  # fmt: skip
                self._failing = True
            else:
                if self._failing:
                    log.info("metrics %s: states sampled again", self.what)
                self._failing = False
        # The 0.0.4 text format: what every Prometheus reads (Debian's 2.x included).
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
