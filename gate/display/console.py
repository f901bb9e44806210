"""The staff console screen: a staff session on one connection, and the staff acts through the daemon's path.

A console connection starts logged out: it is sent its words and whether PIN entry is
locked, never a decision. A session opens with a staff member's PIN (or the break-glass
PIN), checked by the daemon's own login (`Controls.login`, the control socket's: the point
counts wrong PINs for the whole device and journals them), or with a staff badge read at any
reader of the device (a `StaffLogin` event). While it lasts the page is sent the lane's reads
and decisions in the staff text, the attention verdicts waiting, and the device's health;
each act goes through `Screen.command` (the audience check, then the daemon's command path,
which journals it with the staff member's id). Without a session every command is refused.

The session ends on logout, after `[staff] console_idle_s` without a touch (checked here,
whatever the page does), and with the socket: a page that reconnects starts logged out, so
a reconnect never brings back a session the server ended.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from gate.daemon.control import to_json
from gate.display.console_messages import (
    INBOUND,
    Act,
    Login,
    Logout,
    Row,
    Touch,
    allowed_ops,
    decided_message,
    health_message,
    lookup_message,
    row_of_event,
    row_of_record,
)
from gate.display.console_words import CONSOLE_WORDS
from gate.display.messages import Message
from gate.display.screen import Context, Page, Screen
from gate.errors import GateError
from gate.point.commands import Actor, PinLogin
from gate.point.events import (
    ClockTrust,
    DecisionMade,
    Event,
    FireAlarm,
    Missed,
    ModeChanged,
    ReaderChanged,
    StaffAct,
    StaffCalled,
    StaffLogin,
    SyncState,
    TurnstileAlarm,
)
from gate.point.model import LaneMode
from gate.point.staff import BREAK_GLASS, LoginRefused
from gate.reasons import Verdict
from gate.text import LANGUAGES

log = logging.getLogger("gate.display")

ROWS_KEPT = 100  # reads and decisions a console connection remembers (newest first)
HEALTH_EVERY_S = 5.0  # how often an open session's health view is refreshed
NO_SESSION = "no staff session: log in first"
BADGE_HANDOVER_S = 10.0  # a console page opened this soon after a badge login at its lane takes that session
CALL_SHOWN_S = 300.0  # a "call staff" this recent is shown to a console page that connects after it
HEALTH_EVENTS = (ModeChanged, ReaderChanged, ClockTrust, FireAlarm, TurnstileAlarm, SyncState)


def monotonic() -> float:
    """The console's clock for idle sessions (a test moves it on)."""
    return time.monotonic()


@dataclass(slots=True)
class Session:
    actor: Actor
    via: str  # pin, break_glass, badge
    touched: float  # monotonic() of the last touch


class ConsoleScreen(Screen):
    name = "console"
    inbound: ClassVar[TypeAdapter[Any]] = INBOUND
    tick_s = 1.0

    def __init__(self, context: Context, page: Page) -> None:
        super().__init__(context, page)
        self._session: Session | None = None
        self._rows: deque[Row] = deque(maxlen=ROWS_KEPT)
        self._health_at = 0.0
        self._locked = False  # what the page was last told of the PIN lock

    @property
    def session(self) -> Session | None:
        return self._session

    # --- what the page starts from ------------------------------------------------------------

    async def opened(self) -> None:
        self._seed()
        await self.page.send(self._status())
        actor = self._handover()
        if actor is not None:
            await self._open(actor, "badge")
        called = self.context.calls.get(self.lane)  # a call made before this page connected still shows
        if called is not None and asyncio.get_running_loop().time() - called < CALL_SHOWN_S:
            await self.page.send({"type": "called", "lane": self.lane})

    def _handover(self) -> Actor | None:
        """A badge read at the lane's reader a moment ago: the lane's own screen came here for it
        (the visitor screen moves to the console on a staff login), so the session is this page's.
        Once only: a console opened again after that session's logout asks for a PIN or a badge."""
        badge = self.point.staff_session(self.lane)
        if badge is None or badge.actor is None or badge.journal_id in self.context.handed_over:
            return None
        if dt.datetime.now(dt.UTC) - badge.since > dt.timedelta(seconds=BADGE_HANDOVER_S):
            return None
        self.context.handed_over.add(badge.journal_id)
        return badge.actor

    def _seed(self) -> None:
        """Decisions the lane kept from before this connection, behind the ones already here."""
        known = {row.decision_id for row in self._rows}
        records = [r for r in self.point.status(self.lane).last_decisions if r.decision_id not in known]
        context, language = self.context, self.page.language
        rows = [*self._rows, *(row_of_record(r, self.lane, language=language, tz=context.tz) for r in records)]
        rows.sort(key=lambda row: row.at, reverse=True)
        self._rows = deque(rows[:ROWS_KEPT], maxlen=ROWS_KEPT)

    def _status(self) -> Message:
        config, language = self.context.config, self.page.language
        lane = config.lanes[self.lane]
        self._locked = self.point.pin_locked() > 0
        return {
            "type": "status", "lane": self.lane, "zone": config.zones[lane.zone].name,
            "directions": list(lane.directions), "timezone": config.site.timezone, "language": language,
            "languages": list(LANGUAGES), "words": dict(CONSOLE_WORDS[language]),
            "pin_locked_s": round(self.point.pin_locked()), "break_glass": config.staff.break_glass_pin is not None,
            "idle_s": config.staff.console_idle_s, "override_window_s": config.staff.override_window_s,
            "modes": [mode.value for mode in LaneMode], "session": None,
        }  # fmt: skip

    # --- the point's events -------------------------------------------------------------------

    async def event(self, event: Event) -> None:
        if isinstance(event, StaffLogin):  # any reader of the device opens it
            await self._badge(event)
        elif isinstance(event, StaffCalled):
            await self.page.send({"type": "called", "lane": event.lane})
        elif isinstance(event, Missed):
            self._seed()
            if self._session is not None:
                await self._send_views()
        elif event.lane != self.lane:
            return
        elif isinstance(event, DecisionMade):
            context = self.context
            row = row_of_event(event, language=self.page.language, tz=context.tz, currency=context.currency)
            self._rows.appendleft(row)
            if self._session is not None:
                await self.page.send({"type": "decision", "row": row.message(context.tz)})
                if row.verdict == Verdict.ATTENTION.value:
                    await self.page.send(self._pending())
        elif self._session is None:
            return
        elif isinstance(event, StaffAct):
            await self.page.send(self._pending())  # a confirmation or an expiry changes the list
        elif isinstance(event, HEALTH_EVENTS):
            await self._send_health()
            if isinstance(event, SyncState):
                await self._send_marks()  # the hub confirmed more, or the link changed

    async def _badge(self, event: StaffLogin) -> None:
        actor = event.session.actor
        if actor is None:
            await self.page.send({"type": "badge", "ok": False, "reason": event.session.refused})
            return
        self.context.handed_over.add(event.session.journal_id)  # a reload must not take it over again
        await self._open(actor, "badge")

    # --- the page's messages ------------------------------------------------------------------

    async def received(self, message: BaseModel) -> None:
        if isinstance(message, Login):
            await self._login(message)
        elif isinstance(message, Logout):
            await self._end("logout")
        elif isinstance(message, Touch):
            if self._session is not None:
                self._session.touched = monotonic()
        elif isinstance(message, Act):
            await self._act(message)

    async def _login(self, message: Login) -> None:
        controls = self.controls
        if controls is None:
            await self._answer(message.id, {"ok": False, "error": f"lane {self.lane} takes no staff login here"})
            return
        staff = BREAK_GLASS if message.break_glass else message.staff
        try:
            login = PinLogin(staff=staff or "", pin=message.pin)
        except ValidationError:
            # An id no staff record can have logs nobody in: nothing to count or journal.
            await self._answer(message.id, {"ok": False, "error": "wrong staff id or PIN"})
            return
        try:
            actor = await controls.login(login)
        except LoginRefused as exc:
            await self._answer(message.id, {"ok": False, "error": str(exc), "locked_s": round(exc.locked_s)})
            await self._send_lock()
            return
        except GateError as exc:
            await self._answer(message.id, {"ok": False, "error": str(exc)})
            return
        await self._answer(message.id, {"ok": True})
        await self._open(actor, "break_glass" if message.break_glass else "pin")

    async def _act(self, message: Act) -> None:
        session = self._session
        if session is None:
            log.warning("display %s: console %d: %s refused: no staff session", self.lane, self.page.number,
                        message.command.name)  # fmt: skip
            await self._answer(message.id, {"ok": False, "error": NO_SESSION})
            return
        session.touched = monotonic()
        answer = await self.command(message.command, session.actor)
        await self._answer(message.id, self._curated(answer))
        if message.command.name in ("mode", "open", "occupancy"):
            await self._send_health()

    def _curated(self, answer: Message) -> Message:
        """A command's answer as the page needs it: never the daemon's whole status or raw records."""
        context, language, at = self.context, self.page.language, dt.datetime.now(dt.UTC)
        curated: Message = {"ok": bool(answer.get("ok"))}
        for key in ("error", "needs_confirmation"):
            if key in answer:
                curated[key] = answer[key]
        if "decided" in answer:
            curated["decided"] = decided_message(answer["decided"], language=language, tz=context.tz,
                                                 currency=context.currency, at=at)  # fmt: skip
        if "lookup" in answer:
            curated["lookup"] = lookup_message(answer["lookup"], language=language, tz=context.tz,
                                               currency=context.currency, at=at)  # fmt: skip
        if "occupancy" in answer:
            curated["occupancy"] = answer["occupancy"]
        if "void" in answer:
            curated["void"] = {k: answer["void"].get(k) for k in ("redemption", "uses", "admission_withdrawn")}
        return curated

    async def _answer(self, asked: int, fields: Message) -> None:
        await self.page.send({"type": "answer", "id": asked, **fields})

    # --- the session ------------------------------------------------------------------------------

    async def _open(self, actor: Actor, via: str) -> None:
        self._session = Session(actor, via, monotonic())
        log.info("display %s: console %d: session by %s (%s, via %s)", self.lane, self.page.number, actor.by,
                 actor.audience.value, via)  # fmt: skip
        await self.page.send({
            "type": "session", "open": True, "by": actor.by, "role": actor.audience.value, "via": via,
            "allowed": allowed_ops(actor.audience), "idle_s": self.context.config.staff.console_idle_s,
        })  # fmt: skip
        await self._send_views()

    async def _end(self, why: str) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        log.info("display %s: console %d: session of %s ended (%s)", self.lane, self.page.number, session.actor.by,
                 why)  # fmt: skip
        await self.page.send({"type": "session", "open": False, "why": why})

    async def tick(self) -> None:
        session = self._session
        now = monotonic()
        if session is not None and now - session.touched >= self.context.config.staff.console_idle_s:
            await self._end("idle")
        if (self.point.pin_locked() > 0) != self._locked:
            await self._send_lock()
        if self._session is not None and now - self._health_at >= HEALTH_EVERY_S:
            await self._send_health()
            await self.page.send(self._pending())

    async def closed(self) -> None:
        if self._session is not None:
            log.info("display %s: console %d: session of %s ended (socket closed)", self.lane, self.page.number,
                     self._session.actor.by)  # fmt: skip
            self._session = None

    # --- the views (only while a session is open) ---------------------------------------------

    async def _send_views(self) -> None:
        tz = self.context.tz
        await self.page.send({"type": "rows", "rows": [row.message(tz) for row in self._rows]})
        await self.page.send(self._pending())
        await self._send_health()
        await self._send_marks()

    async def _send_marks(self) -> None:
        """Each recent decision's state with the hub (confirmed, offline, waiting): only with a sync process."""
        if self.point.sync is None:
            return
        ids = [row.decision_id for row in self._rows if row.decision_id]
        try:
            marks = await self.point.sync_marks(ids)
        except GateError:
            return  # a storage fault or a stop: said elsewhere; the next state sends them again
        await self.page.send({"type": "marks", "marks": marks})

    def _pending(self) -> Message:
        """The attention verdicts waiting at the lane, newest first, with what the console knows of each."""
        tz = self.context.tz
        rows = {row.decision_id: row for row in self._rows}
        waiting = []
        for decision_id in reversed(self.point.pending_attention(self.lane)):
            row = rows.get(decision_id)
            waiting.append(row.message(tz) if row is not None else {"decision_id": decision_id, "verdict": "attention"})
        return {"type": "pending", "rows": waiting}

    async def _send_health(self) -> None:
        self._health_at = monotonic()
        controls = self.controls
        try:
            status = controls.status() if controls is not None else {"lane": to_json(self.point.status(self.lane))}
        except GateError:
            return  # the daemon is stopping: the socket closes next
        await self.page.send(health_message(status))

    async def _send_lock(self) -> None:
        left = self.point.pin_locked()
        self._locked = left > 0
        await self.page.send({"type": "lock", "locked_s": round(left)})
