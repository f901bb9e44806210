"""Lamps and buzzer: a steady picture per mode, and a short pattern per decision.

Each verdict has its own lamp colour and its own rhythm on the buzzer, so a visitor who
cannot see the lamp (or the screen) can still tell green from red by ear:

| pattern   | lamp             | buzzer                              |
| --------- | ---------------- | ----------------------------------- |
| admit     | green, 2 s       | one short beep (150 ms)             |
| deny      | red, 3 s         | two long beeps (2 x 400 ms)         |
| attention | amber, 6 s       | three quick beeps (3 x 100 ms)      |
| alarm     | red, 3 s         | one long tone (1.5 s)               |
| call      | amber, 30 s      | none (a visitor called staff)       |

While a pattern shows, its lamp replaces the steady picture; green also stays on for as long
as an admitted passage is open. Patterns run as asyncio tasks and a new one cuts the last short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from gate.point.model import LAMPS, Lamp, LaneMode
from gate.turnstile.io import TurnstileIO

log = logging.getLogger("gate.turnstile")


@dataclass(frozen=True, slots=True)
class Pattern:
    name: str
    lamp: Lamp
    lamp_s: float
    beeps: tuple[tuple[float, float], ...]  # (on, off) seconds


ADMIT = Pattern("admit", "green", 2.0, ((0.15, 0.0),))
DENY = Pattern("deny", "red", 3.0, ((0.4, 0.2), (0.4, 0.0)))
ATTENTION = Pattern("attention", "amber", 6.0, ((0.1, 0.1), (0.1, 0.1), (0.1, 0.0)))
ALARM = Pattern("alarm", "red", 3.0, ((1.5, 0.0),))
CALL_STAFF = Pattern("call", "amber", 30.0, ())

# The steady picture of each mode, when no pattern shows.
STEADY: dict[LaneMode, frozenset[Lamp]] = {
    LaneMode.NORMAL: frozenset(),
    LaneMode.FREE: frozenset({"green"}),
    LaneMode.LOCKED: frozenset({"red"}),
    LaneMode.OUT_OF_ORDER: frozenset({"red", "amber"}),
    LaneMode.EMERGENCY: frozenset({"green", "amber"}),
}

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


class Signals:
    """Drives the lamps and the buzzer from the mode, the passage in progress and the last pattern."""

    def __init__(self, io: TurnstileIO, spawn: Spawn) -> None:
        self._io = io
        self._spawn = spawn
        self._steady: frozenset[Lamp] = frozenset()
        self._passage = False
        self._showing: Pattern | None = None
        self._task: asyncio.Task[None] | None = None

    def steady(self, mode: LaneMode) -> None:
        self._steady = STEADY[mode]
        self._apply()

    def passage(self, open_: bool) -> None:
        self._passage = open_
        self._apply()

    def show(self, pattern: Pattern) -> None:
        self._cancel()
        self._showing = pattern
        self._apply()
        self._task = self._spawn(self._run(pattern), f"signals-{pattern.name}")

    def clear(self) -> None:
        """Cut the pattern showing short (a new mode, a fire alarm): the steady picture shows."""
        self._cancel()
        self._showing = None
        self._apply()

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._io.set_buzzer(False)

    async def _run(self, pattern: Pattern) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + pattern.lamp_s
        try:
            for on_s, off_s in pattern.beeps:
                self._io.set_buzzer(True)
                await asyncio.sleep(on_s)
                self._io.set_buzzer(False)
                await asyncio.sleep(off_s)
            await asyncio.sleep(max(0.0, until - loop.time()))
        except Exception:  # a lamp or buzzer fault is logged; it must not take the lane down
            log.exception("signal pattern %s failed", pattern.name)
        finally:
            with contextlib.suppress(Exception):
                self._io.set_buzzer(False)
        if self._showing is pattern:
            self._showing = None
            self._apply()

    def _apply(self) -> None:
        if self._showing is not None:
            lit = {self._showing.lamp}
        else:
            lit = set(self._steady)
            if self._passage:
                lit = (lit - {"red"}) | {"green"}
        for lamp in LAMPS:
            self._io.set_lamp(lamp, lamp in lit)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._cancel()
        self._showing = None
