"""Mock wiring for tests, the bench and the demo: gpiozero MockFactory pins that behave like wires.

`WiredPin` is a gpiozero `MockPin` that
- keeps a level a test (or the demo) put on it, as a real wire would: a fire loop shorted to
  ground stays low when the lane enables the pull-up (a plain MockPin jumps to the pull);
- records every change of level with its monotonic time (`changes`), so a test can assert
  when a relay closed and for how long, and the bench can time the relay against the read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gpiozero.exc import PinFixedPull, PinInvalidPull
from gpiozero.pins.mock import MockFactory, MockPin


class WiredPin(MockPin):  # type: ignore[misc]  # gpiozero is untyped
    def __init__(self, factory: Any, info: Any) -> None:
        self.changes: list[tuple[float, bool]] = []
        self.wired: bool | None = None  # the level something outside put on the pin, if any
        super().__init__(factory, info)

    def drive_high(self) -> None:
        self.wired = True
        super().drive_high()

    def drive_low(self) -> None:
        self.wired = False
        super().drive_low()

    def _set_pull(self, value: str) -> None:
        if self.wired is None:
            super()._set_pull(value)
            self.wired = None  # the pull moved the level, not a wire
            return
        if self.function != "input":
            raise PinFixedPull(f"cannot set pull on non-input pin {self!r}")
        if value not in ("floating", "up", "down"):
            raise PinInvalidPull("pull must be floating, up, or down")
        self._pull = value  # a wired level wins over the pull resistor

    def _change_state(self, value: Any) -> bool:
        changed: bool = super()._change_state(value)
        if changed:
            self.changes.append((self._last_change, bool(value)))
        return changed

    def first_change(self, to: bool, after: float = 0.0) -> float | None:
        """Monotonic time of the first change to `to` at or after `after`."""
        return next((t for t, level in self.changes if level == to and t >= after), None)

    def active_spans(self, after: float = 0.0, *, active_high: bool = True) -> list[tuple[float, float | None]]:
        """(start, end) of each active period after `after`; end None while still active."""
        spans: list[tuple[float, float | None]] = []
        for t, level in self.changes:
            if t < after:
                continue
            if level == active_high:
                spans.append((t, None))
            elif spans and spans[-1][1] is None:
                spans[-1] = (spans[-1][0], t)
        return spans


def mock_factory() -> MockFactory:
    """A MockFactory whose pins are `WiredPin`s."""
    return MockFactory(pin_class=WiredPin)


def wired(factory: MockFactory, pin: int) -> WiredPin:
    """The mock pin with this GPIO number (the one the lane's device uses)."""
    found: WiredPin = factory.pin(pin)
    return found


async def rotate(sensor: WiredPin, *, hold_s: float = 0.05, active_low: bool = True) -> None:
    """One turn of the turnstile arm as its sensor reports it: active for `hold_s`, then idle."""
    (sensor.drive_low if active_low else sensor.drive_high)()
    await asyncio.sleep(hold_s)
    (sensor.drive_high if active_low else sensor.drive_low)()
