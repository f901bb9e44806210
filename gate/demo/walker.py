"""Simulated visitors for the demo: nobody turns a real arm, so someone has to walk through.

A visitor walks when the turnstile lets them, as at a real lane: each unlock pulse of a
passage's relay is one person allowed, who pushes the arm `after_s` later; the passage
sensor (a mock pin) then reports the rotation exactly as its wire would
(`gate.turnstile.mock.rotate`), and the turnstile counts, commits or releases on its own. In free
passage and emergency the relays are held open and never pulse, so the demo asks for those
walks itself (`walk_through`). Disabled, nobody walks and every passage times out: its
hold is released and nothing is consumed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gate.point import DecisionPoint
from gate.point.events import OutputsChanged
from gate.records import Direction
from gate.turnstile import Turnstile
from gate.turnstile.mock import WiredPin, rotate, wired


class Walker:
    def __init__(
        self, point: DecisionPoint, turnstile: Turnstile, *, after_s: float, note: Callable[[str], Awaitable[None]],
        enabled: bool,
    ) -> None:  # fmt: skip
        if turnstile.pin_factory is None:
            raise ValueError("the walker needs a running turnstile")
        config = turnstile.config
        self.point = point
        self.lane_id = turnstile.lane_id
        self.after_s = after_s
        self.enabled = enabled
        self._note = note
        self._active_low = config.sensor_active_low
        self._sensors: dict[Direction, WiredPin] = {}
        for direction in ("entry", "exit"):
            pins = config.entry if direction == "entry" else config.exit
            if pins is not None:
                self._sensors[direction] = wired(turnstile.pin_factory, pins.sensor)
        self._events = point.subscribe()
        self._relays = dict(point.status(self.lane_id).outputs.relays)
        self._tg: asyncio.TaskGroup | None = None

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                async for event in self._events:
                    if not isinstance(event, OutputsChanged) or event.lane != self.lane_id:
                        continue
                    for direction, on in event.outputs.relays.items():
                        pulsed = on and not self._relays.get(direction, False)
                        self._relays[direction] = on
                        if pulsed and self.enabled and self._expected(direction):
                            tg.create_task(self._walk(direction), name=f"walk-{direction}")
        finally:
            self._tg = None
            self._events.close()

    def walk_through(self, direction: Direction, persons: int) -> None:
        """`persons` walk one after the other through a held-open way (free passage, emergency)."""
        if self.enabled and self._tg is not None:
            self._tg.create_task(self._walk(direction, persons), name=f"walk-{direction}-held")

    async def _walk(self, direction: Direction, persons: int = 1) -> None:
        for _ in range(persons):
            await asyncio.sleep(self.after_s)
            # The passage may have ended meanwhile (lane locked, fire alarm): nobody is let through.
            if not self.enabled or not self._expected(direction):
                return
            await self._note(f"a visitor pushes the {direction} arm: the {direction} sensor turns")
            await rotate(self._sensors[direction], active_low=self._active_low)

    def _expected(self, direction: Direction) -> bool:
        passage = self.point.status(self.lane_id).passage
        return passage is not None and passage.direction == direction and passage.passed < passage.expected
