"""The console screen (being built: its page ships once it works)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter

from gate.display.messages import Inbound
from gate.display.screen import Screen
from gate.point.events import Event


class ConsoleScreen(Screen):
    name = "console"
    inbound: ClassVar[TypeAdapter[Any]] = TypeAdapter(Inbound)

    async def opened(self) -> None:
        pass

    async def event(self, event: Event) -> None:
        pass

    async def received(self, message: BaseModel) -> None:
        pass
