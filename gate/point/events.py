"""The decision point's events: one typed stream per daemon, read by subscribers as async iterators.

A subscriber (the demo's terminal view, the screens) reads them as aiomqtt's `messages()` is
read: `async with point.subscribe() as events: async for event in events: ...`. Each
subscriber has a bounded queue of its own. A subscriber that falls behind loses the oldest
events, never delays the lane, and is told how many it lost by a `Missed` event before the
next one it gets. Sync never reads these lossy events: it publishes from the journal.

Events carry the full `Decision` (with the holder's masked name), so a screen renders it in
any audience and language; logs never print them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeAlias

from gate.decision import Decision
from gate.point.kiosk import KioskView
from gate.point.model import LaneMode, Outputs, PassageResult
from gate.point.staff import StaffSession
from gate.records import Direction

SUBSCRIBER_QUEUE = 1000  # events a subscriber may lag behind before the oldest are dropped


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionMade:
    """A read decided at a lane, journaled as `decision_id` (None: decided, recorded nowhere)."""

    lane: str
    monotonic: float
    at: dt.datetime
    direction: Direction
    decision: Decision
    decision_id: str | None
    redemption: str | None  # the held redemption of an admit
    reference: str | None  # the code's normalised reference (none for a signed or unreadable read)
    language: str | None = None  # the holder's preferred language: a screen shows the result in it


PassageStepName: TypeAlias = Literal["unlocked", "passed", "committed", "released", "failed", "open_once"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PassageStep:
    """A step of a turnstile's passage: a person unlocked, n of N passed, then how it ended (`result`)."""

    lane: str
    monotonic: float
    step: PassageStepName
    direction: Direction
    redemption: str | None  # None for a staff "open once"
    entitlement_id: str | None
    passed: int
    expected: int
    result: PassageResult | None = None  # set on the last step


@dataclass(frozen=True, slots=True, kw_only=True)
class ModeChanged:
    lane: str
    monotonic: float
    mode: LaneMode  # in force
    staff_mode: LaneMode  # set by staff, in force again after a fire alarm
    reason: str
    by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class FireAlarm:
    lane: str
    monotonic: float
    alarm: bool  # True: the fire loop opened, every way is free; False: the alarm is over


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnstileAlarm:
    lane: str
    monotonic: float
    detail: str  # "forced rotation", "unexpected entry passage"


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputsChanged:
    lane: str
    monotonic: float
    outputs: Outputs


@dataclass(frozen=True, slots=True, kw_only=True)
class ReaderChanged:
    """A reader went down (failed, or its device went away) or came up (opened, or its device is back)."""

    lane: str
    monotonic: float
    reader: str
    up: bool
    detail: str  # a short reason: the error's text, "device not connected", "started", "connected"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockTrust:
    """The decision clock's trust changed (and once when the daemon's lane starts, with its state)."""

    lane: str | None
    monotonic: float
    trusted: bool
    reason: str  # why it is not trusted ("no time sync since boot", "clock jumped ..."); "" when trusted


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffAct:
    """A staff act done at a lane: `act` is the journal type (staff.open_once, staff.mode...)."""

    lane: str
    monotonic: float
    act: str
    by: str
    reason: str
    journal_id: str
    target: str | None = None  # the decision or redemption acted on


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffLogin:
    """A staff badge read at the lane's reader: a staff session opened (`session.actor`), or refused."""

    lane: str
    monotonic: float
    session: StaffSession


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffCalled:
    """A visitor touched "Call staff" on the lane's screen (`via`: which one): the console shows a
    banner, the lane's amber lamp lights where one is wired; journaled as staff.called."""

    lane: str
    monotonic: float
    via: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncState:
    """The device's sync process, as it last wrote its state into the ledger (docs/sync.md):
    `link` up or down since `since`, `outbox` rows the hub has not confirmed."""

    lane: str | None
    monotonic: float
    link: str
    since: str
    outbox: int
    batch: int = 0  # the hub's ledger batch applied here last
    head: int = 0  # the hub's newest, as its head said
    problem: str = ""  # why the last batch was not applied (a forgery, a rollback, refused lines)
    confirmed: int = 0  # the hub holds every journal row up to this seq
    head_at: float | None = None  # the hub's time in its newest head: how fresh the device's news is
    behind_since: float | None = None  # since when the hub has had batches not applied here
    conflicts: tuple[Mapping[str, Any], ...] = ()  # the hub's recent double uses (gate/sync/conflicts.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class KioskStep:
    """A kiosk session's step: opened, joined, held, refused, confirmed, cancelled, expired, touched."""

    lane: str
    monotonic: float
    step: str
    view: KioskView


@dataclass(frozen=True, slots=True, kw_only=True)
class Missed:
    """This subscriber fell behind: `count` events before this one were dropped for it."""

    lane: str | None
    monotonic: float
    count: int


Event: TypeAlias = (
    DecisionMade
    | PassageStep
    | ModeChanged
    | FireAlarm
    | TurnstileAlarm
    | OutputsChanged
    | ReaderChanged
    | ClockTrust
    | StaffAct
    | StaffLogin
    | StaffCalled
    | SyncState
    | KioskStep
    | Missed
)


class Subscription:
    """One subscriber's bounded view of the stream, from the moment it subscribed."""

    def __init__(self, stream: EventStream, size: int) -> None:
        self._stream = stream
        self._items: deque[Event] = deque()
        self._size = size
        self._missed = 0
        self._wake = asyncio.Event()
        self.closed = False

    def _put(self, event: Event) -> None:
        if len(self._items) >= self._size:
            self._items.popleft()  # the oldest goes: a slow subscriber never stalls the lane
            self._missed += 1
        self._items.append(event)
        self._wake.set()

    def get_nowait(self) -> Event | None:
        """The next event if one is waiting (a `Missed` first after a loss), else None."""
        if self._missed:
            count, self._missed = self._missed, 0
            return Missed(lane=None, monotonic=self._stream.clock(), count=count)
        return self._items.popleft() if self._items else None

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; TimeoutError when none comes within `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                event = self.get_nowait()
                if event is not None:
                    return event
                if self.closed:
                    raise StopAsyncIteration
                self._wake.clear()
                await self._wake.wait()

    def drain(self) -> list[Event]:
        """Every event waiting now, without waiting for more."""
        events = []
        while (event := self.get_nowait()) is not None:
            events.append(event)
        return events

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._stream._drop(self)
        self._wake.set()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventStream:
    """Fans every event out to the subscribers of the moment. Used on the event loop only."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._subscribers: list[Subscription] = []

    def __bool__(self) -> bool:
        # Emitters test this first: with nobody listening no event is even built.
        return bool(self._subscribers)

    def subscribe(self, size: int = SUBSCRIBER_QUEUE) -> Subscription:
        if size < 1:
            raise ValueError("a subscription holds at least one event")
        subscription = Subscription(self, size)
        self._subscribers.append(subscription)
        return subscription

    def _drop(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

    def emit(self, event: Event) -> None:
        for subscription in self._subscribers:
            subscription._put(event)

    def close(self) -> None:
        """Every subscriber's iteration ends once it has read what is waiting."""
        for subscription in list(self._subscribers):
            subscription.close()
