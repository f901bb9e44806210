"""The turnstile's wiring as gpiozero devices: relays, lock output, sensors, alarm, fire loop, lamps, buzzer.

This module only switches outputs and reports inputs; what they mean (a passage, a fire
alarm) is decided by the lane. Input callbacks arrive on gpiozero's own threads (lgpio's
alert thread on a Pi; the caller's thread with mock pins), so `TurnstileIO` hands each
edge to a `notify(name, monotonic)` callback that the lane bridges onto its event loop.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from gpiozero import DigitalInputDevice, DigitalOutputDevice, Factory

from gate.config_turnstile import TurnstileConfig
from gate.errors import GateError
from gate.point.model import LAMPS, Lamp, Outputs
from gate.records import Direction

log = logging.getLogger("gate.turnstile")

InputName: TypeAlias = Literal["entry", "exit", "alarm", "fire"]
Notify: TypeAlias = Callable[[InputName, float], None]


class LaneHardwareError(GateError, RuntimeError):
    """The GPIO backend or a pin cannot be used (no lgpio, no /dev/gpiochip0, a pin busy)."""


def make_factory(name: Literal["lgpio", "native", "mock"]) -> Factory:
    """The gpiozero pin factory the config names; LaneHardwareError when it cannot start here."""
    # Imported on demand: gpiozero.pins.lgpio imports lgpio, which only a Pi has.
    try:
        if name == "mock":
            # Pins that hold a level put on them and record when they changed, like wires.
            from gate.turnstile.mock import mock_factory  # noqa: PLC0415

            return mock_factory()
        if name == "lgpio":
            from gpiozero.pins.lgpio import LGPIOFactory  # noqa: PLC0415 - Pi only

            return LGPIOFactory()
        from gpiozero.pins.native import NativeFactory  # noqa: PLC0415

        return NativeFactory()
    except Exception as exc:  # ImportError, OSError, gpiozero's own errors: all mean "not here"
        raise LaneHardwareError(f"turnstile.pin_factory {name!r} cannot start: {exc}") from exc


class TurnstileIO:
    """The gpiozero devices of one turnstile. Outputs start inactive; `close()` leaves them inactive."""

    def __init__(
        self,
        config: TurnstileConfig,
        *,
        pin_factory: Factory,
        notify: Notify,
        on_output: Callable[[], None] | None = None,
    ) -> None:
        self._notify = notify
        self._on_output = on_output
        self._devices: list[Any] = []
        self.relays: dict[Direction, Any] = {}
        self.sensors: dict[Direction, Any] = {}
        self.lamps: dict[Lamp, Any] = {}
        self.lock: Any = None
        self.buzzer: Any = None
        self.alarm: Any = None
        self.fire: Any = None
        try:
            self._build(config, pin_factory)
        except Exception as exc:
            self.close()
            raise LaneHardwareError(f"turnstile pins cannot be set up: {exc}") from exc

    def _build(self, config: TurnstileConfig, factory: Factory) -> None:
        bounce = config.debounce_ms / 1000 or None

        def output(pin: int, active_high: bool) -> Any:
            device = DigitalOutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=factory)
            self._devices.append(device)
            return device

        def contact(pin: int) -> Any:
            # gpiozero derives the active level from the pull; with no internal pull it needs it given.
            pull_up = {"up": True, "down": False, "none": None}[config.sensor_pull]
            active_state = None if pull_up is not None else not config.sensor_active_low
            device = DigitalInputDevice(
                pin, pull_up=pull_up, active_state=active_state, bounce_time=bounce, pin_factory=factory
            )
            self._devices.append(device)
            return device

        for direction in ("entry", "exit"):
            pins = config.entry if direction == "entry" else config.exit
            if pins is None:
                continue
            self.relays[direction] = output(pins.relay, config.relay_active_high)
            sensor = contact(pins.sensor)
            sensor.when_activated = functools.partial(self._edge, direction)
            self.sensors[direction] = sensor
        if config.lock_output is not None:
            self.lock = output(config.lock_output, config.relay_active_high)
        for lamp in LAMPS:
            pin = getattr(config.lamps, lamp)
            if pin is not None:
                self.lamps[lamp] = output(pin, config.lamp_active_high)
        if config.buzzer is not None:
            self.buzzer = output(config.buzzer, config.lamp_active_high)
        if config.alarm_input is not None:
            self.alarm = contact(config.alarm_input)
            self.alarm.when_activated = functools.partial(self._edge, "alarm")
        if config.fire_loop is not None:
            # A closed loop pulls the pin to ground: active (low) = healthy. A cut wire, a pulled
            # connector or the fire panel opening its contact all read as the alarm.
            self.fire = DigitalInputDevice(config.fire_loop, pull_up=True, bounce_time=bounce, pin_factory=factory)
            self._devices.append(self.fire)
            self.fire.when_activated = functools.partial(self._edge, "fire")
            self.fire.when_deactivated = functools.partial(self._edge, "fire")

    def _edge(self, name: InputName) -> None:
        # On gpiozero's thread: take the time now, before any queueing delay.
        self._notify(name, time.monotonic())

    @property
    def directions(self) -> tuple[Direction, ...]:
        return tuple(self.relays)

    def fire_loop_open(self) -> bool:
        """Whether the fire loop is open (alarm); False when no loop is wired."""
        return self.fire is not None and not self.fire.is_active

    # --- outputs ----------------------------------------------------------------------------

    def set_relay(self, direction: Direction, active: bool) -> None:
        self._set(self.relays[direction], active)

    def set_lock(self, active: bool) -> None:
        if self.lock is not None:
            self._set(self.lock, active)

    def set_lamp(self, lamp: Lamp, active: bool) -> None:
        device = self.lamps.get(lamp)
        if device is not None:
            self._set(device, active)

    def set_buzzer(self, active: bool) -> None:
        if self.buzzer is not None:
            self._set(self.buzzer, active)

    def _set(self, device: Any, active: bool) -> None:
        if device.closed or bool(device.value) == active:
            return
        if active:
            device.on()
        else:
            device.off()
        if self._on_output is not None:
            self._on_output()

    def outputs(self) -> Outputs:
        return Outputs(
            relays={d: bool(dev.value) for d, dev in self.relays.items()},
            lock=None if self.lock is None else bool(self.lock.value),
            lamps={lamp: bool(dev.value) for lamp, dev in self.lamps.items()},
            buzzer=None if self.buzzer is None else bool(self.buzzer.value),
        )

    def close(self) -> None:
        """Every output inactive, then every device closed (its pin back to an input)."""
        self._on_output = None
        for device in self._devices:
            try:
                if isinstance(device, DigitalOutputDevice) and not device.closed:
                    device.off()
                device.close()
            except Exception:  # closing must reach every device, whatever one of them does
                log.exception("closing %r", device)
        self._devices.clear()
