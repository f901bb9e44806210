"""The demo's page: the visitor screen framed, the turnstile's outputs as they switch, and a panel of
demo codes "scanned" by a click. Only the demo serves it (`DisplayServer(demo=...)`), never a daemon.

A click goes the demo's own read path (`DemoHooks.scan`: the terminal view shows the read
too), which is the decision point's, as a reader's read would be. The page also names the
demo staff and their PINs, for the staff console a click away: demo staff only, on a ledger
made for the demo.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import BaseModel, Field, TypeAdapter

from gate.daemon.control import to_json
from gate.display.messages import Inbound, Message, passage_message
from gate.display.screen import DemoHooks, Screen
from gate.errors import GateError
from gate.point.events import DecisionMade, Event, Missed, ModeChanged, OutputsChanged, PassageStep
from gate.text.lines import text_at

log = logging.getLogger("gate.display")


class Scan(Inbound):
    """The page's click on demo code number `code` (an index into the panel, not a free text)."""

    type: Literal["scan"]
    id: int = Field(ge=0, le=2**31)
    code: int = Field(ge=0, le=1000)


DemoInbound: TypeAlias = Scan
_INBOUND: TypeAdapter[DemoInbound] = TypeAdapter(Annotated[DemoInbound, Field(discriminator="type")])


class DemoScreen(Screen):
    name = "demo"
    inbound: ClassVar[TypeAdapter[Any]] = _INBOUND

    @property
    def hooks(self) -> DemoHooks:
        hooks = self.context.demo
        if hooks is None:  # the server registers this screen only with hooks
            raise RuntimeError("the demo page needs the demo's hooks")
        return hooks

    def _hello(self) -> Message:
        point, hooks = self.point, self.hooks
        return {
            "type": "demo",
            "lane": self.lane,
            "kiosks": [lane for lane in point.lane_ids if point.is_kiosk(lane)],
            "codes": [{"code": c.code, "lane": c.lane, "what": c.what, "direction": c.direction} for c in hooks.codes],
            "staff": [{"id": i, "role": role, "name": name, "pin": pin} for i, role, name, pin in hooks.staff],
            "mode": point.status(self.lane).mode.value,
            "outputs": to_json(point.status(self.lane).outputs),
        }

    async def opened(self) -> None:
        await self.page.send(self._hello())

    async def event(self, event: Event) -> None:
        if isinstance(event, Missed):
            await self.page.send(self._hello())
            return
        if isinstance(event, OutputsChanged) and event.lane == self.lane:
            await self.page.send({"type": "outputs", "outputs": to_json(event.outputs)})
        elif isinstance(event, PassageStep) and event.lane == self.lane:
            await self.page.send(passage_message(event))
        elif isinstance(event, ModeChanged) and event.lane == self.lane:
            await self.page.send({"type": "mode", "mode": event.mode.value})
        elif isinstance(event, DecisionMade):
            context = self.context
            text = text_at(event.decision, "staff", at=event.at, tz=context.tz, language=self.page.language,
                           currency=context.currency)  # fmt: skip
            await self.page.send({"type": "decided", "lane": event.lane, "verdict": event.decision.verdict.value,
                                  "reference": event.reference, "text": text})  # fmt: skip

    async def received(self, message: BaseModel) -> None:
        if not isinstance(message, Scan):
            return
        codes = self.hooks.codes
        if message.code >= len(codes):
            await self.page.send({"type": "answer", "id": message.id, "ok": False, "error": "no such demo code"})
            return
        code = codes[message.code]
        try:
            await self.hooks.scan(code)
        except GateError as exc:
            await self.page.send({"type": "answer", "id": message.id, "ok": False, "error": str(exc)})
            return
        await self.page.send({"type": "answer", "id": message.id, "ok": True})
