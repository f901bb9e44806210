"""The self-service kiosk screen: a kiosk lane's session, worded for the person in front of it.

The point's kiosk session is the truth (gate.point.kiosk): a read opens or joins it, the
page's choices go through the daemon's own command path as the `kiosk` audience
(kiosk_choose, kiosk_confirm, kiosk_cancel, kiosk_more_time), and every step comes back as
a `KioskStep` event, which this screen words in the page's language (gate.display.kiosk_messages)
and sends. A code typed on the page's keypad is read on the readers' road
(`point.kiosk_read`, typed: a voucher's code only), at most `[kiosk] typed_per_minute` per
kiosk lane, all its pages together, against guessing.

No trace of the last person: a session that ends (cancelled, expired, replaced) is wiped
from the page at once; a confirmation stays `DONE_S` at most (or until "Done"). A page that
shows a session the point no longer has is wiped at the next tick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter

from gate.display.kiosk_messages import (
    INBOUND,
    Act,
    Choose,
    Done,
    SetLanguage,
    Typed,
    Wording,
    session_message,
    status_message,
)
from gate.display.kiosk_words import WORDS
from gate.display.messages import Message
from gate.display.screen import Context, Page, Screen
from gate.errors import GateError
from gate.point.commands import Actor, Audience, Command, KioskCancel, KioskChoose, KioskConfirm, KioskMoreTime
from gate.point.events import Event, KioskStep, Missed, ModeChanged, StaffLogin
from gate.point.kiosk import ENDED, KioskError, KioskView
from gate.point.model import CLOSED_MODES
from gate.scanner.read import Read

log = logging.getLogger("gate.display")

DONE_S = 30.0  # a confirmation (its QR codes) stays this long, unless "Done" is touched first
TYPED_WINDOW_S = 60.0

def typed_wait(times: deque[float], per_minute: int, now: float) -> float:
    """0 when one more code may be typed now (and counts it in `times`, the loop times of a
    kiosk lane's typed codes, `Context.typed`), else the seconds to wait."""
    while times and now - times[0] >= TYPED_WINDOW_S:
        times.popleft()
    if len(times) >= per_minute:
        return TYPED_WINDOW_S - (now - times[0])
    times.append(now)
    return 0.0


class KioskScreen(Screen):
    name = "kiosk"
    inbound: ClassVar[TypeAdapter[Any]] = INBOUND
    tick_s = 1.0

    def __init__(self, context: Context, page: Page) -> None:
        super().__init__(context, page)
        self._shown: KioskView | None = None  # the session on the page (a confirmed one while it stays)
        self._step = "current"
        self._done_at: float | None = None  # loop time its confirmation went up
        self._language = page.language  # what the page asked for: the next person starts in it again

    @property
    def actor(self) -> Actor:
        return Actor(Audience.KIOSK, f"kiosk:{self.lane}")

    def _wording(self) -> Wording:
        context = self.context
        return Wording(self.page.language, context.tz, context.currency, dt.datetime.now(dt.UTC),
                       context.config.kiosk.fold_at)  # fmt: skip

    def _closed(self) -> bool:
        return self.point.status(self.lane).mode in CLOSED_MODES

    def _status(self) -> Message:
        config = self.context.config
        kiosk = config.kiosk
        settings = {"warn_s": kiosk.warn_s, "inactivity_s": kiosk.inactivity_s, "fold_at": kiosk.fold_at,
                    "typed_per_minute": kiosk.typed_per_minute, "done_s": DONE_S}  # fmt: skip
        return status_message(
            lane=self.lane, zone=config.zones[config.lanes[self.lane].zone].name, language=self.page.language,
            screen="closed" if self._closed() else "normal", timezone=config.site.timezone, settings=settings,
        )  # fmt: skip

    async def opened(self) -> None:
        await self._start_over()

    async def _start_over(self) -> None:
        """The status, then the session open now (never one the page may have kept)."""
        await self.page.send(self._status())
        view = None if self._closed() else self.point.kiosk_session(self.lane)
        if view is not None:
            await self._show(view, "current")
        else:
            await self._wipe("none")

    async def event(self, event: Event) -> None:
        if isinstance(event, Missed):
            await self._start_over()  # what was missed may have ended the session
            return
        if event.lane != self.lane:
            return
        if isinstance(event, StaffLogin) and event.session.actor is not None:
            await self.page.send({"type": "staff"})  # a staff badge at this kiosk: its screen becomes the console
        elif isinstance(event, KioskStep):
            if event.view.state in ENDED and event.view.state != "confirmed":
                if self._shown is None or self._shown.session == event.view.session:
                    await self._wipe(event.step)
                return
            await self._show(event.view, event.step)
        elif isinstance(event, ModeChanged):
            closed = self._closed()
            await self.page.send({"type": "mode", "screen": "closed" if closed else "normal"})
            view = None if closed else self.point.kiosk_session(self.lane)
            if view is not None:
                await self._show(view, "current")
            else:
                await self._wipe("closed" if closed else "none")

    async def _show(self, view: KioskView, step: str) -> None:
        self._shown, self._step = view, step
        self._done_at = asyncio.get_running_loop().time() if view.state == "confirmed" else None
        await self.page.send(session_message(view, step, self._wording()))

    async def _wipe(self, why: str) -> None:
        self._shown, self._done_at = None, None
        await self.page.send({"type": "wipe", "why": why})
        if self.page.language != self._language:  # the last person's language goes with them
            self.page.language = self._language
            await self.page.send(self._status())

    async def tick(self) -> None:
        shown = self._shown
        if shown is None:
            return
        if self._done_at is not None:
            if asyncio.get_running_loop().time() - self._done_at >= DONE_S:
                await self._wipe("done")
            return
        current = self.point.kiosk_session(self.lane)
        if current is None or current.session != shown.session:
            await self._wipe("gone")  # an end this page missed: never a stale session

    async def received(self, message: BaseModel) -> None:
        answer: Message
        if isinstance(message, Choose):
            choose = KioskChoose(op="kiosk_choose", session=message.session, performance=message.performance,
                                 items=tuple(message.items))  # fmt: skip
            answer = await self._act(choose)
        elif isinstance(message, Act):
            acts: dict[str, Command] = {
                "confirm": KioskConfirm(op="kiosk_confirm", session=message.session),
                "cancel": KioskCancel(op="kiosk_cancel", session=message.session),
                "more_time": KioskMoreTime(op="kiosk_more_time", session=message.session),
            }
            answer = await self._act(acts[message.type])
        elif isinstance(message, Typed):
            answer = await self._typed(message.code)
        elif isinstance(message, Done):
            if self._done_at is not None:
                await self._wipe("done")
            answer = {"ok": True}
        elif isinstance(message, SetLanguage):
            self.page.language = message.language
            await self.page.send(self._status())
            if self._shown is not None:
                await self._show(self._shown, self._step)
            answer = {"ok": True}
        else:
            return
        asked = getattr(message, "id", None)
        if asked is not None:
            await self.page.send({"type": "answer", "id": asked, **answer})

    async def _act(self, command: Command) -> Message:
        answer = await self.command(command, self.actor)
        if answer.get("ok"):
            return {"ok": True}
        return {"ok": False, "text": WORDS[self.page.language]["error"]}  # staff's error text stays in the log

    async def _typed(self, code: str) -> Message:
        words = WORDS[self.page.language]
        loop = asyncio.get_running_loop()
        # Every page of one kiosk shares its lane's count: a second tab gets no second allowance.
        times = self.context.typed.setdefault(self.lane, deque())
        wait = typed_wait(times, self.context.config.kiosk.typed_per_minute, loop.time())
        if wait > 0:
            log.info("display %s: a typed code refused: rate limit (%.0f s to wait)", self.lane, wait)
            return {"ok": False, "text": words["typed_limit"], "wait_s": round(wait)}
        try:
            await self.point.kiosk_read(Read(code, None, "kiosk-keypad", "entry"), lane=self.lane, typed=True)
        except KioskError:
            return {"ok": False, "text": words["typed_refused"]}
        except GateError as exc:
            log.info("display %s: a typed code not read: %s", self.lane, type(exc).__name__)
            return {"ok": False, "text": words["error"]}
        return {"ok": True}
