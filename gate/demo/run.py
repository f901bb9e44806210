"""The demo: the real decision point and turnstile on simulated pins, the demo ledger, readers and a live view.

    DecisionPoint (the demo ledger; the lane and the kiosk)
    └── Turnstile (mock pins) of the lane
        ├── view      LaneView: a subscriber of the point's events, a line each (and a status block)
        ├── walker    simulated visitors push the arm after each unlock (unless --no-walk)
        ├── camera    /dev/video0 through the daemon's supervised reader, when there is one
        └── flow      the guided tour through the lane, then codes typed on stdin until EOF

The tour's kiosk step goes through the same decision point as a kiosk session: the code is
read at the kiosk, a performance chosen, the choice confirmed. SIGINT (Ctrl-C) or SIGTERM
stops the flow; passages under way finish (visitors still walk) before the lane stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import Any, TextIO

from gate.cache import Ledger
from gate.config import CameraReaderConfig, GateConfig, ReaderConfig
from gate.daemon.readers import LaneFeed, SupervisedReader
from gate.demo.ledger import DEMO_CODES, DEMO_STAFF, TOUR
from gate.demo.screens import serve_screens
from gate.demo.typed import TypedReader
from gate.demo.view import LaneView
from gate.demo.walker import Walker
from gate.engine import Engine
from gate.errors import GateError
from gate.point import OPEN_MODES, DecisionPoint, LaneMode
from gate.point.staff import StaffSession
from gate.records import Direction
from gate.scanner.read import Read, Reader
from gate.turnstile import Turnstile
from gate.turnstile.mock import mock_factory, wired

log = logging.getLogger("gate.demo")

HINT = "type CODE or CODE exit, :help for staff, Ctrl-D ends"
HELP = """  staff commands:
    :mode normal|free|locked|out_of_order   set the lane's mode (journaled)
    :open [exit]                            let one person through without a code
    :fire                                   open (or close again) the fire-alarm loop
    :walk                                   visitors walk through, or stop walking (passages time out)"""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    typed: bool = True  # after the tour, codes typed on stdin until EOF
    walk: bool = True  # simulated visitors walk through after each unlock
    walk_after_s: float = 0.6
    camera: str | None = None  # a camera source, when there is one
    pace_s: float = 0.0  # a pause after each tour step, for a person to read it
    tty: bool = False  # a status block at the bottom of the terminal
    live_input: bool = False  # stdin is a terminal: codes are decided as they are typed
    input_fd: int = 0  # where typed codes come from
    display_port: int | None = 8080  # the visitor screen on loopback (another free port if taken); None: none


def _build_camera(reader_id: str, config: ReaderConfig) -> Reader:
    from gate.scanner.factory import build_reader  # noqa: PLC0415 - OpenCV loads only with a camera

    return build_reader(reader_id, config)


class Demo:
    def __init__(self, point: DecisionPoint, turnstile: Turnstile, *, options: DemoOptions, out: TextIO) -> None:
        self.point = point
        self.lane_id = turnstile.lane_id
        self.options = options
        self.tz = point.tz
        self.turnstile = turnstile.config
        self.pin_factory = turnstile.pin_factory
        self.view = LaneView(point, self.lane_id, out=out, tty=options.tty, tz=self.tz, hint=HINT,
                             passage_timeout_s=self.turnstile.passage_timeout_s)  # fmt: skip
        self.walker = Walker(point, turnstile, after_s=options.walk_after_s, note=self._note, enabled=options.walk)
        self.view.walking = options.walk

    async def run(self, stop: asyncio.Event) -> None:
        self.view.start()
        try:
            async with asyncio.TaskGroup() as tg:
                background = [tg.create_task(self.view.run(), name="view"),
                              tg.create_task(self.walker.run(), name="walker")]  # fmt: skip
                if self.options.camera is not None:
                    background.append(tg.create_task(self._camera(self.options.camera), name="camera"))
                flow = tg.create_task(self._flow(), name="flow")
                stopping = tg.create_task(stop.wait(), name="stop")
                await asyncio.wait([flow, stopping], return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                if not flow.done():
                    flow.cancel()
                    async with self.view.lock:
                        self.view.line("\n  stopping: the passage under way ends first")
                # Passages under way end as they would (visitors still walk); a lane without
                # walkers releases them after one timeout each, on its way out.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.point.settle(self.lane_id), self.turnstile.passage_timeout_s + 1)
                for task in background:
                    task.cancel()
            async with self.view.lock:
                self.view.drain()
                self._summary()
        finally:
            self.view.close()

    # --- the flow ---------------------------------------------------------------------------

    async def _flow(self) -> None:
        async with self.view.lock:
            self.view.line("A guided tour: each code goes through the lane as if it were scanned.")
        for code, lane_id, ask, what in TOUR:
            header = ("", f"# {what}")
            if lane_id == self.lane_id:
                direction: Direction = "exit" if ask.get("direction") == "exit" else "entry"
                await self.decide(Read(code, None, "tour", direction), party=ask.get("party"), header=header)
                await self.point.settle(self.lane_id)  # the passage ends before the next step: the story stays in order
            else:
                await self._kiosk(code, lane_id, ask, header)
            async with self.view.lock:
                self.view.drain()
            if self.options.pace_s:
                await asyncio.sleep(self.options.pace_s)
        if not self.options.typed:
            return
        async with self.view.lock:
            self.view.line(f"\nYour turn. Demo codes: {', '.join(DEMO_CODES)}.")
            self.view.line("Type a code (or CODE exit), one per line; :help lists staff commands; Ctrl-D ends.")
        async with TypedReader(fd=self.options.input_fd, on_other=self._command) as reader:
            async for read in reader.reads():
                await self.decide(read)
                if not self.options.live_input:
                    # Scripted input (a pipe, a file) reads as a story: each passage ends before
                    # the next code. Someone typing may scan again while one is under way.
                    await self.point.settle(self.lane_id)
        await self.point.settle(self.lane_id)

    async def decide(self, read: Read, *, party: int | None = None, header: tuple[str, ...] = ()) -> None:
        """One read through the lane, its lines together: the code, the decision, what the lane did."""
        where = self.lane_id + (", exit" if read.direction == "exit" else "")
        where += f", party of {party}" if party else ""
        where += f" (from the {read.reader} reader)" if read.reader not in ("tour", "typed") else ""
        async with self.view.lock:
            for line in header:
                self.view.line(line)
            self.view.read(read.data, where)
            try:
                # Shielded: a Ctrl-C must not cut a decision between its hold and its passage.
                outcome = await asyncio.shield(self.point.decide(read, lane=self.lane_id, party=party))
            except GateError as exc:
                self.view.line(f"  {exc}")
                return
            self.view.drain()  # the decision comes back as an event, as a screen would see it
        if isinstance(outcome, StaffSession):
            return  # a staff badge: the view showed the login
        decision = outcome.decision
        if decision.admits and self.point.mode(self.lane_id) in OPEN_MODES:
            self.walker.walk_through(read.direction, decision.admitted)

    async def screen_scan(self, code: str, lane_id: str, direction: str) -> None:
        """A code clicked on the demo page: read at the lane, or at the kiosk (its screen takes over)."""
        read = Read(code, None, "screen", "exit" if direction == "exit" else "entry")
        if lane_id == self.lane_id:
            await self.decide(read)
            return
        async with self.view.lock:
            self.view.read(code, lane_id)
        await self.point.kiosk_read(read, lane=lane_id)

    async def _kiosk(self, code: str, lane_id: str, ask: dict[str, Any], header: tuple[str, ...]) -> None:
        """A kiosk session, as its screen would drive it: read, choose, confirm."""
        async with self.view.lock:
            for line in header:
                self.view.line(line)
            self.view.read(code, lane_id)
            try:
                view = await self.point.kiosk_read(Read(code, None, "tour", "entry"), lane=lane_id)
                self.view.drain()
                choices = ", ".join(o.performance or "+".join(o.items) for c in view.codes for o in c.options)
                self.view.event(f"kiosk session {view.session}: {choices or 'nothing to choose'}")
                view = await self.point.kiosk_choose(lane_id, view.session, performance=ask.get("performance"),
                                                     items=tuple(ask.get("items", ())))  # fmt: skip
                self.view.drain()
                if view.refused is not None or not view.held:
                    self.view.event("the kiosk user's choice is refused: nothing held")
                    await self.point.kiosk_cancel(lane_id, view.session)
                    return
                self.view.event(f"chose {ask.get('performance') or ask.get('items')}: held, the kiosk user confirms")
                await self.point.kiosk_confirm(lane_id, view.session)
                self.view.event("confirmed: the admission is issued, no turnstile at a kiosk")
            except GateError as exc:
                self.view.line(f"  {exc}")

    async def _camera(self, source: str) -> None:
        config = CameraReaderConfig(type="camera", lane=self.lane_id, source=source)
        await SupervisedReader("camera", config, LaneFeed(self.decide), build=_build_camera).run()

    async def _note(self, text: str) -> None:
        async with self.view.lock:
            self.view.event(text)

    # --- staff commands ---------------------------------------------------------------------

    async def _command(self, line: str) -> None:
        words = line.split()
        command, args = words[0].lower(), words[1:]
        async with self.view.lock:
            self.view.mark(f"staff: {line}")
            try:
                if command == ":help":
                    self.view.line(HELP)
                elif command == ":mode" and len(args) == 1 and args[0] in {m.value for m in LaneMode}:
                    await self.point.set_mode(self.lane_id, LaneMode(args[0]), reason="demo", by="demo")
                elif command == ":open" and args in ([], ["entry"], ["exit"]):
                    direction: Direction = "exit" if args == ["exit"] else "entry"
                    await self.point.open_once(self.lane_id, direction=direction, reason="demo", by="demo")
                elif command == ":fire" and self.turnstile.fire_loop is not None:
                    self._fire()
                elif command == ":walk":
                    self.walker.enabled = self.view.walking = not self.walker.enabled
                    self.view.line("  visitors walk through" if self.walker.enabled else "  nobody walks through now")
                else:
                    self.view.line(f"  {line!r} is not a code: type CODE, or CODE exit (:help for staff commands)")
            except GateError as exc:
                self.view.line(f"  {exc}")
            self.view.drain()

    def _fire(self) -> None:
        assert self.pin_factory is not None and self.turnstile.fire_loop is not None
        loop = wired(self.pin_factory, self.turnstile.fire_loop)
        if loop.state:  # the pull-up reads high: the loop is open
            loop.drive_low()
            self.view.line(f"  fire loop closed again: the alarm ends after {self.turnstile.fire_clear_s:g} s")
        else:
            loop.drive_high()
            self.view.line("  the fire panel opens its loop (:fire again closes it)")

    def _summary(self) -> None:
        status = self.point.status(self.lane_id)
        done = self.view.outcomes
        self.view.line(
            f"\ndone: {self.view.reads} read(s) decided at {status.lane}; passages: {done.get('committed', 0)} "
            f"committed, {done.get('released', 0)} released (nothing consumed); mode {status.mode.value}"
        )


async def run_demo(config: GateConfig, *, options: DemoOptions, out: TextIO) -> None:
    """The demo lane of `config` (its [daemon] lane) on mock pins, until the flow ends or a signal."""
    lane_id = config.daemon.lane or next(lane for lane, c in config.lanes.items() if not c.kiosk)
    factory = mock_factory()
    if config.turnstile is not None and config.turnstile.fire_loop is not None:
        wired(factory, config.turnstile.fire_loop).drive_low()  # a healthy site: the loop is closed
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ledger = await asyncio.to_thread(Ledger.open, config.ledger.path, create=False)
    assert config.turnstile is not None  # the demo config has one
    try:
        point = DecisionPoint(engine=Engine(ledger, config), lanes=list(config.lanes))
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(point)
            turnstile = Turnstile(point=point, lane_id=lane_id, config=config.turnstile, pin_factory=factory)
            t = await stack.enter_async_context(turnstile)
            demo = Demo(point, t, options=options, out=out)
            if options.display_port is not None:
                url = await serve_screens(stack, point, t, options.display_port, demo.screen_scan)
                staff = ", ".join(f"{name.split()[0]} ({role}) PIN {pin}" for _, role, name, pin, _ in DEMO_STAFF)
                out.write(f"screens: {url} (the demo page: the visitor screen, the turnstile, codes to click, "
                          f"the kiosk and the staff console; demo staff {staff}); the terminal view goes on\n\n")
                out.flush()
            await demo.run(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await asyncio.to_thread(ledger.close)
        factory.close()
