"""The [turnstile] section of the config file: the lane's pins, their levels and its timings (docs/lane.md).

Apart from gate.config for its size; gate.config re-exports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gate.config_fields import PIN_KEYS, Pin, Section, clashes

LaneModeName = Literal["normal", "free", "locked", "out_of_order"]


class DirectionPins(Section):
    relay: Pin = Field(description="GPIO of the unlock relay wired to the turnstile's dry-contact input.")
    sensor: Pin = Field(description="GPIO of the passage sensor that reports one rotation in this direction.")


class LampsConfig(Section):
    green: Pin | None = Field(default=None, description="GPIO of the green lamp (admit, free passage).")
    red: Pin | None = Field(default=None, description="GPIO of the red lamp (deny, locked, out of order).")
    amber: Pin | None = Field(default=None, description="GPIO of the amber lamp (attention: staff needed).")


class TurnstileConfig(Section):
    """The turnstile of the daemon's lane: pins, active levels and timings (docs/lane.md)."""

    pin_factory: Literal["lgpio", "native", "mock"] = Field(
        default="lgpio",
        description="gpiozero backend: lgpio on a Pi, native (pure Python), mock (no hardware: tests, demo).",
    )
    entry: DirectionPins | None = Field(default=None, description="Pins of the entry direction.")
    exit: DirectionPins | None = Field(default=None, description="Pins of the exit direction.")
    relay_active_high: bool = Field(
        default=True, description="Relay (and lock output) energised by a high level; false for active-low boards."
    )
    pulse_ms: int = Field(default=200, ge=20, le=5000, description="Length of the unlock pulse per person.")
    lock_output: Pin | None = Field(
        default=None, description="GPIO of an optional lock/stop output, active while locked or out of order."
    )
    sensor_active_low: bool = Field(
        default=True, description="Passage and alarm inputs read active when low (a contact closing to ground)."
    )
    sensor_pull: Literal["up", "down", "none"] = Field(
        default="up", description="Pull resistor of the passage and alarm inputs: up, down, or none (external)."
    )
    debounce_ms: int = Field(default=30, ge=0, le=1000, description="Edges of one input closer than this are one.")
    alarm_input: Pin | None = Field(
        default=None, description="GPIO of the turnstile's alarm output (forced rotation): logged and reported."
    )
    fire_loop: Pin | None = Field(
        default=None,
        description="GPIO of the fire-alarm loop (pulled up, loop to ground): open loop = alarm, every way freed.",
    )
    fire_clear_s: float = Field(
        default=2.0, ge=0, le=600, description="The loop must stay closed this long before the alarm ends."
    )
    lamps: LampsConfig = Field(default_factory=LampsConfig, description="Lamps; each optional.")
    lamp_active_high: bool = Field(default=True, description="Lamps and buzzer are on at a high level.")
    buzzer: Pin | None = Field(default=None, description="GPIO of an active buzzer (on/off, no PWM needed).")
    passage_timeout_s: float = Field(
        default=8.0, gt=0, le=120, description="Time each admitted person has to pass; then the rest is released."
    )
    accessible_timeout_s: float = Field(
        default=20.0, gt=0, le=300, description="The same for entitlements flagged accessible (plus one companion)."
    )
    first_mode: LaneModeName = Field(
        default="normal", description="Lane mode at the very first start; afterwards the last mode set wins."
    )

    def pins(self) -> list[tuple[str, int]]:
        """(key path, GPIO) of every pin the section uses."""
        found: list[tuple[str, int]] = []
        for keys in PIN_KEYS:
            value: object = self
            for key in keys:
                value = getattr(value, key, None)
            if isinstance(value, int):
                found.append(("turnstile." + ".".join(keys), value))
        return found

    @model_validator(mode="after")
    def _wiring(self) -> TurnstileConfig:
        # Problems name full key paths (see _problems), so an operator sees both ends of a clash.
        problems: list[str] = []
        if self.entry is None and self.exit is None:
            problems.append("turnstile.entry: a turnstile needs the pins of at least one direction (entry, exit)")
        problems += clashes(self.pins())
        # An input pulled towards its own active level would read a passage with nothing connected.
        if self.sensor_pull == "up" and not self.sensor_active_low:
            problems.append("turnstile.sensor_active_low: a pulled-up input is active low (or set sensor_pull)")
        if self.sensor_pull == "down" and self.sensor_active_low:
            problems.append("turnstile.sensor_active_low: a pulled-down input is active high (or set sensor_pull)")
        if problems:
            raise ValueError("; ".join(problems))
        return self
