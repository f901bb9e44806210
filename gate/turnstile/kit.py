"""The test kit: drive a running turnstile's mock pins like its wiring, from outside the process.

As gpiozero ships its mock pins, gate ships this: on mock pins, a daemon accepts on its
control socket a simulated passage per direction, the fire loop opening and closing, and the
turnstile's alarm input. A test, the screens' demo or an operator's rehearsal can then drive
a whole lane. On real pins every call is refused: nothing here may fake a real turnstile.
"""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from gate.errors import GateError
from gate.records import Direction
from gate.turnstile.mock import WiredPin, rotate, wired
from gate.turnstile.turnstile import Turnstile


class NotMockPins(GateError, PermissionError):
    """The test kit on a turnstile with real pins: refused."""


class TestKit:
    __test__ = False  # not a pytest class, whatever its name says

    def __init__(self, turnstile: Turnstile) -> None:
        self._turnstile = turnstile

    def _pin(self, pin: int | str | None, what: str) -> WiredPin:
        factory = self._turnstile.pin_factory
        if not isinstance(factory, MockFactory):
            raise NotMockPins(f"the test kit works on mock pins only (turnstile.pin_factory is "
                              f"{self._turnstile.config.pin_factory!r}): a real {what} is wired")  # fmt: skip
        if pin is None:
            raise GateError(f"this turnstile has no {what} wired")
        return wired(factory, pin)  # type: ignore[arg-type]  # gpiozero takes numbers and names

    async def passage(self, direction: Direction) -> None:
        """One turn of the arm in `direction`, as its passage sensor reports it."""
        config = self._turnstile.config
        pins = config.entry if direction == "entry" else config.exit
        sensor = self._pin(pins.sensor if pins is not None else None, f"{direction} passage sensor")
        await rotate(sensor, active_low=config.sensor_active_low)

    def fire_loop(self, open_: bool) -> None:
        """The fire panel opens its loop (the pin reads high on its pull-up) or closes it again."""
        loop = self._pin(self._turnstile.config.fire_loop, "fire loop")
        (loop.drive_high if open_ else loop.drive_low)()

    async def alarm(self) -> None:
        """The turnstile's alarm output reports a forced rotation."""
        config = self._turnstile.config
        await rotate(self._pin(config.alarm_input, "alarm input"), active_low=config.sensor_active_low)
