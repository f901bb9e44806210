"""The visitor screen of a lane: its decisions, passage steps and modes, and what a visitor may send back.

On connect the page gets the lane's status (in the language it asked for: `/ws?lang=fr`, else
the display's default); then the lane's decisions, passage steps and modes as
gate.display.messages says. A subscriber that fell behind (`Missed`) gets the status again
and starts over.

What a page sends back is allow-listed (`painted`, `call_staff`); anything else is dropped.
Paint reports are logged at DEBUG and kept for the screen benchmark (`Context.paints`).
"Call staff" goes to the point (`call_staff`: the consoles' banner, the amber lamp, the
journal) once per `CALL_REPEAT_S` per lane, however often it is touched; every touch is
answered `called`, so the visitor sees that staff know.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import BaseModel, Field, TypeAdapter

from gate.display.messages import (
    Inbound,
    Message,
    Painted,
    decision_message,
    mode_message,
    passage_message,
    status_message,
)
from gate.display.screen import Context, Page, Paint, Screen
from gate.errors import GateError
from gate.point.events import DecisionMade, Event, Missed, ModeChanged, PassageStep, StaffLogin, SyncState

log = logging.getLogger("gate.display")

SENT_KEPT = 64  # decisions a connection remembers sending, to accept their paint reports
CALL_REPEAT_S = 30.0  # a lane's "call staff" touched again within this long calls nobody new


class CallStaff(Inbound):
    type: Literal["call_staff"]


VisitorInbound: TypeAlias = Painted | CallStaff
_INBOUND: TypeAdapter[VisitorInbound] = TypeAdapter(Annotated[VisitorInbound, Field(discriminator="type")])


class VisitorScreen(Screen):
    name = "visitor"
    inbound: ClassVar[TypeAdapter[Any]] = _INBOUND

    def __init__(self, context: Context, page: Page) -> None:
        super().__init__(context, page)
        self._sent: dict[str, float] = {}  # decision id -> queued ms, the last SENT_KEPT

    def status(self) -> Message:
        sync = self.point.sync.link if self.point.sync is not None else None
        return status_message(self.point.status(self.lane), self.context.config, language=self.page.language,
                              sync=sync)  # fmt: skip

    async def opened(self) -> None:
        await self.page.send(self.status())

    async def event(self, event: Event) -> None:
        message = self._message(event)
        if message is not None:
            await self.page.send(message)

    def _message(self, event: Event) -> Message | None:
        if isinstance(event, Missed):
            return self.status()  # what was missed may have ended a result
        if event.lane != self.lane:
            return None  # another lane of the point (the demo serves two)
        context = self.context
        if isinstance(event, DecisionMade):
            message = decision_message(event, language=self.page.language, tz=context.tz, currency=context.currency,
                                       timing=context.timing)  # fmt: skip
            if event.decision_id is not None:
                self._sent_decision(event.decision_id, (asyncio.get_running_loop().time() - event.monotonic) * 1000)
            return message
        if isinstance(event, PassageStep):
            return passage_message(event)
        if isinstance(event, ModeChanged):
            return mode_message(self.point.status(self.lane))
        if isinstance(event, SyncState):
            return {"type": "sync", "link": event.link}
        if isinstance(event, StaffLogin) and event.session.actor is not None:
            return {"type": "staff"}  # a staff badge at this lane: its screen becomes the console
        return None

    def _sent_decision(self, decision_id: str, queued_ms: float) -> None:
        self._sent[decision_id] = queued_ms
        while len(self._sent) > SENT_KEPT:
            del self._sent[next(iter(self._sent))]

    async def received(self, message: BaseModel) -> None:
        if isinstance(message, Painted):
            self._painted(message)
        elif isinstance(message, CallStaff):
            await self._call_staff()

    async def _call_staff(self) -> None:
        now = asyncio.get_running_loop().time()
        last = self.context.calls.get(self.lane)
        if last is None or now - last >= CALL_REPEAT_S:
            try:
                self.point.call_staff(self.lane, via=f"visitor-screen-{self.page.number}")
            except GateError as exc:  # the lane is stopping: its page is about to say out of order
                log.warning("display %s: call staff not passed on: %s", self.lane, exc)
                return
            self.context.calls[self.lane] = now
        await self.page.send({"type": "called"})

    def _painted(self, report: Painted) -> None:
        queued = self._sent.pop(report.decision_id, None)
        if queued is None:
            return  # not a decision this connection was sent (or reported twice)
        paint = Paint(report.decision_id, report.ms, queued, self.lane)
        self.context.paints.append(paint)
        if self.context.on_paint is not None:
            self.context.on_paint(paint)
        log.debug("display %s: decision %s painted %.1f ms after its message (queued %.1f ms)",
                  self.lane, report.decision_id, report.ms, queued)  # fmt: skip
