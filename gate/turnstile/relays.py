"""The unlock relays and the lock output: pulses per person, held open in free passage and emergency.

A turnstile's dry-contact input grants one rotation per closing of the contact, so each
admitted person gets one pulse; a pulse asked for while the relay is still closed from the
previous one first opens it for a short gap, or the turnstile would see one long closing.
Pulse ends use the loop's monotonic timer (`call_later`), never the wall clock.
"""

from __future__ import annotations

import asyncio
import logging

from gate.records import Direction
from gate.turnstile.io import TurnstileIO

log = logging.getLogger("gate.turnstile")


class Relays:
    def __init__(self, io: TurnstileIO, *, pulse_s: float) -> None:
        self._io = io
        self._pulse_s = pulse_s
        # Long enough for a turnstile controller to see the contact open between two pulses.
        self._gap_s = min(0.1, pulse_s / 2)
        self._held = False
        self._ends: dict[Direction, asyncio.TimerHandle] = {}

    @property
    def held(self) -> bool:
        return self._held

    def hold(self, held: bool) -> None:
        """Hold every relay active (free passage, emergency), or let them go back to pulses."""
        if held == self._held:
            return  # a pulse under way is left to end by itself
        self._held = held
        for direction in self._io.directions:
            end = self._ends.pop(direction, None)
            if end is not None:
                end.cancel()
            self._io.set_relay(direction, held)

    def lock(self, active: bool) -> None:
        self._io.set_lock(active)

    def pulse_now(self, direction: Direction) -> bool:
        """Start a pulse now if no gap is needed first; whether the way is open (pulsed or held)."""
        if self._held:
            return True
        if direction in self._ends:
            return False
        self._io.set_relay(direction, True)
        self._ends[direction] = asyncio.get_running_loop().call_later(self._pulse_s, self._end, direction)
        return True

    async def pulse(self, direction: Direction) -> None:
        """Close the relay for one pulse; returns once it is closed (the pulse ends by itself)."""
        if self._held:
            return  # already open
        end = self._ends.pop(direction, None)
        if end is not None:
            end.cancel()
            self._io.set_relay(direction, False)
            await asyncio.sleep(self._gap_s)
            if self._held:
                return
        self._io.set_relay(direction, True)
        self._ends[direction] = asyncio.get_running_loop().call_later(self._pulse_s, self._end, direction)

    def _end(self, direction: Direction) -> None:
        self._ends.pop(direction, None)
        if not self._held:
            self._io.set_relay(direction, False)

    def close(self) -> None:
        for end in self._ends.values():
            end.cancel()
        self._ends.clear()
