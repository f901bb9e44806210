"""A screen: what one kind of page is sent of the decision point's events, and what it may send back.

The feed (gate.display.feed) owns the websocket: it subscribes to the point, answers `ping`,
and hands each event and each page message to the connection's `Screen`, one object per
connection (so a console's login lives and dies with its socket). The kinds:

- `visitor` (gate.display.visitor): a lane's results; sends back paint reports, "call staff";
- `kiosk` (gate.display.kiosk): a kiosk lane's session; sends the kiosk commands;
- `console` (gate.display.console): staff; logs in, then sends staff commands.

A screen that acts does so through `Controls`, the daemon's own login and command path (the
control socket's), with the audience its page has: a visitor screen may only call staff, a
kiosk page is the `kiosk` audience, a console is whoever logged in. Never a second road.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from gate.acts import NeedsConfirmation
from gate.config import GateConfig
from gate.daemon.control import Controlled
from gate.display.messages import Message, Timing
from gate.errors import GateError
from gate.point import DecisionPoint
from gate.point.commands import Actor, Command, allow
from gate.point.events import Event
from gate.records import Direction
from gate.text.format import Language

log = logging.getLogger("gate.display")

Controls = Controlled  # the daemon (or the demo's `gate.daemon.acts.LaneControls`): login, execute, status

PAINTS_KEPT = 1000  # paint reports kept in memory (the benchmark reads them)


@dataclass(frozen=True, slots=True)
class Paint:
    """A page's report: decision `decision_id` painted `ms` after its message arrived there;
    `queued_ms`: from the decision's event to its message leaving the daemon."""

    decision_id: str
    ms: float
    queued_ms: float
    lane: str


@dataclass(frozen=True, slots=True)
class DemoCode:
    code: str
    lane: str
    what: str  # what it shows, in a sentence
    direction: Direction = "entry"


@dataclass(frozen=True, slots=True)
class DemoHooks:
    """The demo's page: its codes, its staff's PINs, and how a click "scans" a code (the demo's own
    read path: the terminal shows it too). Never given to a daemon's display."""

    codes: tuple[DemoCode, ...]
    staff: tuple[tuple[str, str, str, str], ...]  # (id, role, name, PIN): demo staff only
    scan: Callable[[DemoCode], Awaitable[None]]


@dataclass(slots=True)
class Context:
    """What every screen of one display server shares."""

    point: DecisionPoint
    config: GateConfig
    language: Language  # the display's default
    controls: Mapping[str, Controls]  # by lane; a lane without: its pages only watch
    demo: DemoHooks | None = None  # the demo's page may "scan" a code by a click (never in a daemon)
    timing: Timing = field(default_factory=Timing)
    paints: deque[Paint] = field(default_factory=lambda: deque(maxlen=PAINTS_KEPT))
    calls: dict[str, float] = field(default_factory=dict)  # lane -> loop time of its last "call staff"
    handed_over: set[str] = field(default_factory=set)  # badge logins a console page took over (journal ids)
    typed: dict[str, deque[float]] = field(default_factory=dict)  # kiosk lane -> loop times of its typed codes
    on_paint: Callable[[Paint], None] | None = None  # the daemon's metrics (read-to-screen)

    @property
    def tz(self) -> dt.tzinfo:
        return self.config.site.tz

    @property
    def currency(self) -> str | None:
        return self.config.site.currency


class Page:
    """One page's websocket: sends one message at a time."""

    def __init__(self, ws: web.WebSocketResponse, number: int, lane: str, language: Language) -> None:
        self.ws = ws
        self.number = number
        self.lane = lane
        self.language = language
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        async with self._lock:
            await self.ws.send_json(message)


class Screen(ABC):
    """One connection's screen; the feed calls `opened` once, then `event` and `received` as they come."""

    name: ClassVar[str]
    # What a page of this kind may send besides `ping` (a discriminated union on `type`).
    inbound: ClassVar[TypeAdapter[Any]]
    tick_s: ClassVar[float | None] = None  # how often `tick` runs, if the screen has timers

    def __init__(self, context: Context, page: Page) -> None:
        self.context = context
        self.page = page
        self.lane = page.lane

    @property
    def point(self) -> DecisionPoint:
        return self.context.point

    @property
    def controls(self) -> Controls | None:
        return self.context.controls.get(self.lane)

    @abstractmethod
    async def opened(self) -> None:
        """The socket is open and subscribed: send what the page starts from."""

    @abstractmethod
    async def event(self, event: Event) -> None:
        """One event of the point (any lane's: a screen picks its own)."""

    @abstractmethod
    async def received(self, message: BaseModel) -> None:
        """One message of the page, validated against `inbound`."""

    async def tick(self) -> None:  # noqa: B027 - a screen without timers has nothing to do
        """Every `tick_s`, while the page is connected."""

    async def closed(self) -> None:  # noqa: B027 - most screens keep nothing to let go
        """The socket is closing (the page went away, or the daemon stops)."""

    async def command(self, command: Command, actor: Actor) -> Message:
        """`command` as `actor`, through the daemon's own path: the answer's fields (`ok`, `error`...)."""
        controls = self.controls
        if controls is None:
            return {"ok": False, "error": f"lane {self.lane} takes no commands from its screens"}
        try:
            allow(command, actor)
            log.info("display %s: %s by %s (%s screen %d)", self.lane, command.name, actor.by, self.name,
                     self.page.number)  # fmt: skip
            return {"ok": True, **await controls.execute(command, actor)}
        except NeedsConfirmation as exc:
            return {"ok": False, "error": str(exc), "needs_confirmation": True}
        except GateError as exc:
            # The page may word it for its reader (a kiosk user gets no staff text): the log keeps it.
            log.info("display %s: %s refused (%s screen %d): %s", self.lane, command.name, self.name,
                     self.page.number, exc)  # fmt: skip
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            log.exception("display %s: %s failed", self.lane, command.name)
            return {"ok": False, "error": f"{command.name} failed: {type(exc).__name__}"}
