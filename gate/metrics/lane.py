"""The lane daemon's metrics (`gate run`, `[metrics] daemon`): what its lane decided and how fast.

    gate_decisions_total{lane,verdict,reason}      every decision, from the point's events
    gate_passages_total{lane,outcome}              passages ended: committed, released, open_once, failed
    gate_read_to_relay_seconds{lane}               a read from its reader to the admit handed to the turnstile
    gate_read_to_screen_seconds{lane}              a read to a visitor screen's report that it painted the result
    gate_reader_up{lane,reader}                    1 while the reader runs with its device there
    gate_reader_reads_total{lane,reader}           codes read
    gate_clock_trusted{lane}                       1 while the decision clock is trusted
    gate_lane_mode{lane,mode}                      1 for the mode in force
    gate_storage_fault{lane}                       1 while the ledger cannot be written
    gate_storage_free_bytes                        free space on the ledger's file system

Nothing here runs before the relay: the read-to-relay time is taken once `DecisionPoint.decide`
has returned (the turnstile has pulsed), and decisions and passages are counted from the
point's event stream by a task of their own. Labels are ids and codes only: a lane, a reader,
a verdict, a reason code, an outcome; never an entitlement, a reference, staff or a name.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from gate.config_metrics import address
from gate.engine import Outcome
from gate.metrics.registry import Sampled, counter, free_bytes, gauge, new_registry
from gate.metrics.server import MetricsServer
from gate.point.events import DecisionMade, Missed, PassageStep, Subscription
from gate.point.model import LaneMode
from gate.point.staff import StaffSession
from gate.scanner.read import Read

if TYPE_CHECKING:
    from gate.daemon.run import Daemon
    from gate.display.screen import Paint
    from gate.point import DecisionPoint

# Seconds. The lane's own budget is a few ms to the relay; a screen's is 100 ms (docs/display.md).
RELAY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCREEN_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
OUTCOMES = ("committed", "released", "open_once", "failed")
SHOWN_KEPT = 64  # decisions whose read time waits for a screen's paint report


class LaneMetrics:
    def __init__(self, lane: str, *, listen: str) -> None:
        self.lane = lane
        self.address = address(listen)
        self.registry = registry = new_registry()
        self._decisions = Counter("gate_decisions", "Decisions at the lane, by verdict and reason code.",
                                  ("lane", "verdict", "reason"), registry=registry)  # fmt: skip
        passages = Counter("gate_passages", "Passages ended at the lane's turnstile, by outcome.",
                           ("lane", "outcome"), registry=registry)  # fmt: skip
        self._passages = {outcome: passages.labels(lane, outcome) for outcome in OUTCOMES}
        self._relay = Histogram(
            "gate_read_to_relay_seconds", "From a read leaving its reader to its admit handed to the turnstile "
            "(the relay pulsed, unless a passage was still under way).", ("lane",), buckets=RELAY_BUCKETS,
            registry=registry,
        ).labels(lane)  # fmt: skip
        self._screen = Histogram(
            "gate_read_to_screen_seconds", "From a read leaving its reader to a visitor screen's report that it "
            "painted the result (as bench/screen.py measures it).", ("lane",), buckets=SCREEN_BUCKETS,
            registry=registry,
        ).labels(lane)  # fmt: skip
        self._missed = Counter("gate_metrics_events_missed", "Point events the metrics fell behind on and lost.",
                               registry=registry)  # fmt: skip
        self._states = Sampled()
        registry.register(self._states)
        self._shown: OrderedDict[str, float] = OrderedDict()  # decision id -> its read's monotonic time
        self.screens = False  # set when the lane serves screens: only then are read times kept for them

    # --- on the read path, after the relay ------------------------------------------------------

    def answered(self, read: Read, outcome: Outcome | StaffSession) -> None:
        """`DecisionPoint.decide` returned for `read`: its admit is with the turnstile."""
        if not isinstance(outcome, Outcome):
            return  # a staff badge: a login, not a decision
        if outcome.redemption is not None:
            self._relay.observe(time.monotonic() - read.monotonic)
        if self.screens and outcome.decision_id is not None:
            shown = self._shown
            shown[outcome.decision_id] = read.monotonic
            if len(shown) > SHOWN_KEPT:
                shown.popitem(last=False)

    def painted(self, paint: Paint) -> None:
        """A visitor screen's paint report reached the daemon (gate/display/visitor.py)."""
        read_at = self._shown.pop(paint.decision_id, None)
        if read_at is not None:
            self._screen.observe(time.monotonic() - read_at)

    # --- from the point's events ------------------------------------------------------------------

    async def watch(self, events: Subscription) -> None:
        lane = self.lane
        async for event in events:
            if isinstance(event, DecisionMade):
                if event.lane == lane:
                    decision = event.decision
                    self._decisions.labels(lane, decision.verdict.value, decision.reason.value).inc()
            elif isinstance(event, PassageStep):
                result = event.result
                if result is not None and event.lane == lane:
                    self._passages[result.outcome].inc()
            elif isinstance(event, Missed):
                self._missed.inc(event.count)

    # --- states, sampled at each scrape ------------------------------------------------------------

    async def refresh(self, daemon: Daemon, point: DecisionPoint) -> None:
        lane = self.lane
        readers = [reader.state() for reader in daemon.readers]
        mode = point.mode(lane)
        fault = point.status(lane).storage_fault is not None
        free = await asyncio.to_thread(lambda: list(free_bytes(daemon.config.ledger.path)))
        self._states.families = [
            gauge("gate_reader_up", "1 while the reader runs with its device there.", ("lane", "reader"),
                  (((lane, r.id), float(r.running and r.connected is not False)) for r in readers)),
            counter("gate_reader_reads", "Codes read by the reader.", ("lane", "reader"),
                    (((lane, r.id), float(r.reads)) for r in readers)),
            counter("gate_reader_restarts", "Restarts of the reader after a failure.", ("lane", "reader"),
                    (((lane, r.id), float(r.restarts)) for r in readers)),
            gauge("gate_clock_trusted", "1 while the decision clock is trusted.", ("lane",),
                  [((lane,), float(daemon.clock.state.trusted))]),
            gauge("gate_lane_mode", "1 for the lane's mode in force, 0 for the others.", ("lane", "mode"),
                  (((lane, m.value), float(m is mode)) for m in LaneMode)),
            gauge("gate_storage_fault", "1 while the ledger cannot be written (the lane is out of order).",
                  ("lane",), [((lane,), float(fault))]),
            gauge("gate_storage_free_bytes", "Bytes free on the ledger's file system.", (), free),
        ]  # fmt: skip

    @contextlib.asynccontextmanager
    async def serving(self, daemon: Daemon, point: DecisionPoint) -> AsyncIterator[MetricsServer]:
        """The endpoint and the events' counter, for as long as the lane runs."""
        server = MetricsServer(self.registry, self.address, what=f"lane {self.lane}",
                               refresh=lambda: self.refresh(daemon, point))  # fmt: skip
        async with point.subscribe() as events, server:
            watcher = asyncio.create_task(self.watch(events), name="metrics")
            try:
                yield server
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
