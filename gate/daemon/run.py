"""`gate run`: the daemon of one lane, a turnstile lane or a kiosk, as the config says.

One event loop, one root `asyncio.TaskGroup`, every long-lived part an async context manager:

    root TaskGroup
    ├── loop-ticker      measures the loop's lag                     (health)
    ├── ledger-probe     BEGIN IMMEDIATE; ROLLBACK every few seconds  (health)
    ├── clock            watches the wall clock against the monotonic one
    ├── watchdog         WATCHDOG=1 at half $WATCHDOG_USEC while healthy
    └── lane             ledger + engine -> DecisionPoint [-> Turnstile] [-> DisplayServer] -> control -> TaskGroup
                         ├── reader:<id>   one per configured reader of the lane, restarted with backoff
                         ├── checkpoint    copies the WAL into the ledger while the lane is idle
                         └── stop          waits for SIGTERM/SIGINT

A kiosk has no turnstile: its reads open kiosk sessions on the decision point.

SIGTERM (or SIGINT): STOPPING=1 at once; readers stop taking reads; decisions already taken
finish; the control socket closes; the screens' websockets close (1001, going away); the
turnstile drains the passage in progress (its __aexit__); the decision point stops; the
ledger closes; exit 0. The health tasks outlive the lane so the watchdog is fed while a
passage drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gate.cache import Ledger, LedgerError, LedgerUnusable, upgrade
from gate.cache.schema import quick_check
from gate.config import ConfigError, GateConfig, missing_turnstile
from gate.config_turnstile import TurnstileConfig
from gate.daemon import acts
from gate.daemon.clock import DecisionClock
from gate.daemon.control import ControlError, ControlServer, to_json
from gate.daemon.health import Check, LedgerProbe, LoopTicker, Watchdog
from gate.daemon.readers import Build, LaneFeed, SupervisedReader
from gate.daemon.systemd import Notifier
from gate.engine import Engine
from gate.metrics import lane_metrics
from gate.point import DecisionPoint, LaneRefused, PointStopped
from gate.point.commands import Actor, BadgeLogin, Command, PinLogin, SetMode
from gate.point.events import SyncState
from gate.scanner.read import Read
from gate.sync.conflicts import CONFLICTS, stored, summary
from gate.turnstile import LaneHardwareError, Turnstile

SYNC_STATE_S = 2.0  # how often the sync process's state is read from the ledger (it writes it as often)

if TYPE_CHECKING:
    from gate.display import DisplayServer
    from gate.metrics.lane import LaneMetrics

log = logging.getLogger("gate.daemon")


def _build_reader(reader_id: str, config: Any) -> Any:
    from gate.scanner.factory import build_reader  # noqa: PLC0415 - keeps `gate lane ...` quick to start

    return build_reader(reader_id, config)


class Daemon:
    """One lane's daemon. `await Daemon(...).run()` returns once stopped by a signal (or `stop()`)."""

    def __init__(
        self, config: GateConfig, lane_id: str, *, source: str = "<config>", notifier: Notifier | None = None,
        build: Build = _build_reader, clock: DecisionClock | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.lane_id = lane_id
        self.source = source
        self.notifier = notifier or Notifier.from_env()
        self._build = build
        daemon = config.daemon
        self.clock = clock or DecisionClock(max_jump_s=daemon.clock.max_jump_s, require_sync=daemon.clock.require_sync)
        self.ticker = LoopTicker()
        self.probe = LedgerProbe(config.ledger.path, every=daemon.watchdog.ledger_check_s)
        self.watchdog = Watchdog(
            self.notifier, self._checks, ticker=self.ticker, max_lag=daemon.watchdog.max_loop_lag_s,
            describe=self._describe,
        )  # fmt: skip
        self.point: DecisionPoint | None = None
        self.turnstile: Turnstile | None = None
        self.display: DisplayServer | None = None
        self.readers: list[SupervisedReader] = []
        self.metrics = lane_metrics(config, lane_id)  # [metrics] daemon, else None (gate/metrics/lane.py)
        self.started = time.monotonic()
        self.started_at = dt.datetime.now(dt.UTC)
        self._stop = asyncio.Event()
        self._checked = False  # the ledger's pages were checked before READY
        self._state = "starting"

    # --- life cycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig.name)
        try:
            async with asyncio.TaskGroup() as root:
                services = [
                    root.create_task(self.ticker.run(), name="loop-ticker"),
                    root.create_task(self.probe.run(), name="ledger-probe"),
                    root.create_task(self.clock.watch(), name="clock"),
                    root.create_task(self.watchdog.run(), name="watchdog"),
                ]
                lane = root.create_task(self._run_lane(), name="lane")
                # asyncio.wait, not await: a failing lane is reported once, by the TaskGroup.
                await asyncio.wait([lane])
                for task in services:
                    task.cancel()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            self.notifier.close()
        log.info("stopped")

    def stop(self, why: str = "stop requested") -> None:
        if self._stop.is_set():
            log.info("%s: already stopping", why)
            return
        log.info("%s: stopping (the passage in progress finishes first)", why)
        self._state = "stopping"
        self.notifier.stopping(f"stopping ({why})")
        self._stop.set()

    async def _run_lane(self) -> None:
        path = self.config.ledger.path
        # Opening may create or migrate the ledger: disk work, off the loop. It checks the
        # file's identity and schema (LedgerUnusable: one line, an exit the unit does not restart).
        # A migration (a backup first) tells systemd it goes on, so the start timeout waits for it.
        with upgrade.reporting(lambda status: self.notifier.extend(upgrade.EXTEND_S, status)):
            ledger = await asyncio.to_thread(Ledger.open, path)
        try:
            self._checked = await self._check_at_start(ledger)
            engine = Engine(ledger, self.config)
            async with contextlib.AsyncExitStack() as stack:
                point = DecisionPoint(engine=engine, lanes=[self.lane_id], clock=self.clock.now)
                await stack.enter_async_context(point)
                stack.enter_context(self.clock.reporting(point=point, lane=self.lane_id))
                if not point.is_kiosk(self.lane_id):
                    turnstile = Turnstile(point=point, lane_id=self.lane_id, config=self._turnstile_config())
                    try:
                        self.turnstile = await stack.enter_async_context(turnstile)
                    except LaneRefused as exc:  # wiring that cannot serve this lane: no restart loop
                        raise ConfigError(self.source, [str(exc)]) from exc
                await self._open_display(stack, point)
                if self.metrics is not None:
                    await self._open_metrics(stack, point, self.metrics)
                self.point = point
                self.probe.point_check = point.check_storage
                stack.callback(setattr, self.probe, "point_check", None)
                self._report_restart(point)
                await self._serve(point)
            log.info("lane %s drained", self.lane_id)
            with contextlib.suppress(LedgerError):
                await asyncio.to_thread(ledger.touch, durable=True, settings={self._run_key: "stopped"})
        finally:
            self.point = self.turnstile = self.display = None
            await asyncio.to_thread(ledger.close)

    async def _open_display(self, stack: contextlib.AsyncExitStack, point: DecisionPoint) -> None:
        """With [display] enabled: the screens, closed before the turnstile drains (a stopping
        lane shows "out of order", not a result that may no longer be true)."""
        settings = self.config.display
        if not settings.enabled:
            return
        from gate.display import DisplayError, DisplayServer  # noqa: PLC0415 - aiohttp's import, only when served

        display = DisplayServer(
            point=point, lane=self.lane_id, controls={self.lane_id: self}, host=settings.host, port=settings.port,
            language=settings.language, on_paint=self.metrics.painted if self.metrics is not None else None,
        )
        try:
            self.display = await stack.enter_async_context(display)
        except DisplayError as exc:  # the port taken, an address not on this device: said in one line
            raise ConfigError(self.source, [f"display.port: {exc}"]) from exc

    async def _open_metrics(self, stack: contextlib.AsyncExitStack, point: DecisionPoint, metrics: LaneMetrics) -> None:
        from gate.metrics.server import MetricsError  # noqa: PLC0415 - prometheus_client only when served

        metrics.screens = self.display is not None
        try:
            await stack.enter_async_context(metrics.serving(self, point))
        except MetricsError as exc:  # the port taken, an address not on this device: said in one line
            raise ConfigError(self.source, [f"metrics.daemon: {exc}"]) from exc

    @property
    def _run_key(self) -> str:
        return f"daemon.{self.lane_id}.run"

    async def _check_at_start(self, ledger: Ledger) -> bool:
        """The full quick_check takes seconds on a large ledger: before READY only when the last
        run did not stop cleanly (True then), else after READY (`_check_after_ready`)."""
        path = self.config.ledger.path
        try:
            unclean = await asyncio.to_thread(ledger.setting, self._run_key) == "running"
        except LedgerError:
            unclean = True  # not even that could be read: the pages say why
        if unclean:
            log.warning("ledger %s: the last run did not stop cleanly: checking its pages before serving", path)
            problems = await asyncio.to_thread(quick_check, path)
            if problems is not None:
                raise LedgerUnusable(f"{path} is damaged ({problems}): restore a backup (docs/operations.md)")
        try:
            await asyncio.to_thread(ledger.touch, durable=True, settings={self._run_key: "running"})
        except LedgerError as exc:
            log.error("ledger %s: cannot note this run: %s", path, exc)  # the point's writes will say more
        return unclean

    async def _check_after_ready(self, point: DecisionPoint) -> None:
        path = self.config.ledger.path
        problems = await asyncio.to_thread(quick_check, path)
        if problems is None:
            log.info("ledger %s: quick_check ok", path)
        else:
            point.ledger_damaged(f"{path} is damaged ({problems}): restore a backup (docs/operations.md)")

    def _turnstile_config(self) -> TurnstileConfig:
        if self.config.turnstile is None:  # gate run said so already; a Daemon built in-process did not
            raise ConfigError(self.source, [missing_turnstile(self.lane_id)])
        return self.config.turnstile

    async def _serve(self, point: DecisionPoint) -> None:
        feed = LaneFeed(self._decide)
        self.readers = [
            SupervisedReader(reader_id, reader, feed, build=self._build, point=point)
            for reader_id, reader in self.config.readers.items()
            if reader.lane == self.lane_id
        ]
        async with ControlServer(self.config.daemon.control_socket, self), asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._checkpoints(point, feed), name="checkpoint"),
                     group.create_task(self._sync_watch(point), name="sync-state")]  # fmt: skip
            if not self._checked:
                tasks.append(group.create_task(self._check_after_ready(point), name="ledger-check"))
            for supervised in self.readers:
                supervised.task = group.create_task(supervised.run(), name=f"reader:{supervised.id}")
                tasks.append(supervised.task)
            self._state = "serving"
            self.notifier.ready(self._describe())
            log.info(
                "ready: %s %s, mode %s, %d reader(s), control %s, display %s, clock %s",
                "kiosk" if self.turnstile is None else "lane", self.lane_id, point.mode(self.lane_id),
                len(self.readers), self.config.daemon.control_socket, self.display.url if self.display else "off",
                "trusted" if self.clock.state.trusted else f"NOT trusted ({self.clock.state.reason})",
            )  # fmt: skip
            await self._stop.wait()
            for task in tasks:
                task.cancel()
        await feed.drain()  # decisions already taken reach the ledger before the lane drains

    async def _sync_watch(self, point: DecisionPoint) -> None:
        """The sync process's state from the ledger (it writes it there), for the screens and status."""
        keys = ("sync.link", "sync.since", "sync.outbox", "sync.batch_seq", "sync.head", "sync.ledger_problem",
                "sync.clock_offset_s", "sync.confirmed_through", "sync.head_at", "sync.behind_since",
                CONFLICTS)  # fmt: skip
        while True:
            try:
                found = await point.settings(keys)
            except (LedgerError, PointStopped):
                found = {}  # a storage fault says so elsewhere; the state is read again next time
            link, since, outbox, batch, head, problem, offset, confirmed, head_at, behind, conflicts = (
                found.get(key) for key in keys)  # fmt: skip
            try:
                self.clock.hub_offset(float(offset) if offset else None)
            except ValueError:
                self.clock.hub_offset(None)
            if link is not None:
                state = SyncState(lane=self.lane_id, monotonic=asyncio.get_running_loop().time(), link=link,
                                  since=since or "", outbox=_count(outbox), batch=_count(batch), head=_count(head),
                                  problem=problem or "", confirmed=_count(confirmed), head_at=_instant(head_at),
                                  behind_since=_instant(behind),
                                  conflicts=tuple(summary(c) for c in stored(conflicts)))  # fmt: skip
                known = point.sync
                if known is None or dataclasses.replace(known, monotonic=state.monotonic) != state:
                    point.sync_changed(state)
            await asyncio.sleep(SYNC_STATE_S)

    async def _decide(self, read: Read) -> None:
        assert self.point is not None
        outcome = await self.point.decide(read, lane=self.lane_id)
        if self.metrics is not None:  # after the relay: decide has handed the admit to the turnstile
            self.metrics.answered(read, outcome)

    async def _checkpoints(self, point: DecisionPoint, feed: LaneFeed) -> None:
        """Copy the WAL into the ledger when the lane has been idle a moment (cheap unless due)."""
        idle = self.config.daemon.idle_checkpoint_s
        done_at = -1.0
        while True:
            await asyncio.sleep(idle / 2)
            if feed.idle_for() < idle or point.status(self.lane_id).passage is not None or done_at == feed.last_read:
                continue
            done_at = feed.last_read
            try:
                await point.checkpoint()
            except LedgerError as exc:
                log.warning("checkpoint failed: %s", exc)

    def _report_restart(self, point: DecisionPoint) -> None:
        holds = point.status(self.lane_id).restart_holds
        if holds:
            released = sum(1 for h in holds if h.outcome == "released")
            log.warning(
                "restart: %d hold(s) left by the last run; %d released (nothing consumed), %d failed",
                len(holds), released, len(holds) - released,
            )  # fmt: skip

    # --- health and status --------------------------------------------------------------------

    def _checks(self) -> list[Check]:
        if self._stop.is_set():
            # Readers were stopped on purpose; the watchdog goes on while the passage drains.
            return [Check("readers", True, "stopped"), self.probe.result]
        dead = [r.id for r in self.readers if r.task is not None and not r.alive]
        readers = Check("readers", not dead, f"supervisor of {', '.join(dead)} ended" if dead else self._readers())
        return [readers, self.probe.result]

    def _readers(self) -> str:
        if not self.readers:
            return "none configured"
        parts = []
        for reader in self.readers:
            state = reader.state()
            parts.append(f"{state.id} {_link(state.running, state.connected)}")
        return ", ".join(parts)

    def _describe(self) -> str:
        point = self.point
        mode = point.mode(self.lane_id).value if point is not None else "-"
        clock = "" if self.clock.state.trusted else "; clock NOT trusted"
        return f"{self._state}: lane {self.lane_id} {mode}; readers: {self._readers()}{clock}"

    def status(self) -> dict[str, Any]:
        point = self.point
        if point is None:
            raise ControlError(f"lane {self.lane_id} is not running ({self._state})")
        checks = self.watchdog.evaluate()
        return {
            "lane": to_json(point.status(self.lane_id)),
            "daemon": {
                "state": self._state,
                "pid": os.getpid(),
                "started_at": self.started_at.isoformat(),
                "uptime_s": round(time.monotonic() - self.started, 1),
                "ledger": str(self.config.ledger.path),
                "display": self.display.url if self.display is not None else None,
                "watchdog_s": self.notifier.watchdog_interval,
                "watchdog_pings": self.watchdog.pings,
            },
            "clock": {"now": self.clock.now().astimezone(self.config.site.tz).isoformat(), **to_json(self.clock.state)},
            "health": {"ok": all(c.ok for c in checks), "checks": [to_json(c) for c in checks]},
            "readers": [to_json(r.state()) for r in self.readers],
            "sync": acts.sync_status(point),
        }

    async def login(self, login: PinLogin | BadgeLogin) -> Actor:
        return await self._running_point().login(login)

    async def execute(self, command: Command, actor: Actor) -> dict[str, Any]:
        """One allowed command (gate.daemon.acts); GateError subclasses are answered as refusals."""
        answer = await acts.execute(self._running_point(), self.lane_id, self.turnstile, command, actor)
        if isinstance(command, SetMode):
            self.notifier.status(self._describe())
        return {"status": self.status()} if answer is None else answer

    def _running_point(self) -> DecisionPoint:
        if self.point is None or self._stop.is_set():
            raise ControlError(f"lane {self.lane_id} is {self._state}")
        return self.point


def _instant(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _count(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _link(running: bool, connected: bool | None) -> str:
    if not running:
        return "restarting"
    return {True: "connected", False: "waiting for its device", None: "running"}[connected]


def choose_lane(config: GateConfig, asked: str | None, *, source: str) -> str:
    """The lane to run: --lane, else [daemon] lane, else the config's only lane."""
    lane = asked or config.daemon.lane
    if lane is not None:
        if lane not in config.lanes:
            raise ConfigError(source, [f"--lane: unknown lane {lane!r} (lanes: {', '.join(config.lanes)})"])
        return lane
    if len(config.lanes) == 1:
        return next(iter(config.lanes))
    raise ConfigError(
        source, [f"daemon.lane: required when the config has several lanes ({', '.join(config.lanes)}), or --lane"]
    )


EXIT_LEDGER_UNUSABLE = 3  # systemd/gate.service: RestartPreventExitStatus


def run_daemon(config: GateConfig, lane_id: str, *, source: str, factory: Callable[..., Daemon] = Daemon) -> int:
    """Run until stopped: 0 after a clean stop, 1 after a failure (logged), 3 for a ledger that
    cannot serve (one line: no restart helps); ConfigError for an unusable config."""
    daemon = factory(config, lane_id, source=source)
    try:
        asyncio.run(daemon.run())
    except BaseExceptionGroup as group:
        failures = _leaves(group)
        for exc in failures:
            if isinstance(exc, LedgerUnusable):
                log.critical("gate: cannot use the ledger: %s", exc)
                daemon.notifier.stopping("failed")
                return EXIT_LEDGER_UNUSABLE
        for exc in failures:
            # A config the lane cannot use, or a second daemon on one socket: one reason, no traceback.
            if isinstance(exc, ConfigError | ControlError):
                daemon.notifier.stopping("failed")
                raise exc from None
        for exc in failures:
            # Missing GPIO is an install problem said in words (gate doctor says more); the rest are bugs.
            trace = None if isinstance(exc, LaneHardwareError) else exc
            log.critical("daemon failed: %s: %s", type(exc).__name__, exc, exc_info=trace)
        daemon.notifier.stopping("failed")
        return 1
    return 0


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found
