"""The [turnstile] section: defaults, pin names, and every wiring mistake by key path."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gate.config import ConfigError, parse_config
from gate.point import DecisionPoint, LaneRefused
from gate.turnstile import LaneHardwareError, Turnstile, make_factory
from tests.configs import config_text

from .conftest import Rig

ENTRY = {"relay": 17, "sensor": 27}


def _problems(**turnstile: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text(turnstile=turnstile))
    return caught.value.problems


def test_defaults() -> None:
    config = parse_config(config_text(turnstile={"entry": ENTRY}))
    t = config.turnstile
    assert t is not None
    assert (t.pin_factory, t.relay_active_high, t.pulse_ms, t.debounce_ms) == ("lgpio", True, 200, 30)
    assert (t.passage_timeout_s, t.accessible_timeout_s, t.first_mode) == (8.0, 20.0, "normal")
    assert (t.sensor_active_low, t.sensor_pull, t.exit, t.fire_loop, t.buzzer) == (True, "up", None, None, None)
    assert parse_config(config_text()).turnstile is None  # a kiosk has none


def test_pins_may_be_named_as_on_the_board() -> None:
    config = parse_config(
        config_text(
            turnstile={"entry": {"relay": "GPIO17", "sensor": "BOARD13"}, "exit": {"relay": "BCM22", "sensor": "J8:16"}}
        )
    )
    assert config.turnstile is not None
    assert config.turnstile.pins() == [
        ("turnstile.entry.relay", 17), ("turnstile.entry.sensor", 27),
        ("turnstile.exit.relay", 22), ("turnstile.exit.sensor", 23),
    ]  # fmt: skip


def test_a_pin_used_twice_names_both_key_paths() -> None:
    problems = _problems(
        entry=ENTRY, exit={"relay": 22, "sensor": "BOARD11"}, fire_loop=22, lamps={"green": 24, "red": 24}
    )
    assert problems == [
        "turnstile.exit.sensor: GPIO17 is already used by turnstile.entry.relay",
        "turnstile.lamps.red: GPIO24 is already used by turnstile.lamps.green",
        "turnstile.fire_loop: GPIO22 is already used by turnstile.exit.relay",
    ]


def test_every_other_mistake_is_reported_at_once() -> None:
    problems = _problems(
        pin_factory="pigpio", entry={"relay": 40, "sensor": "BOARD1"}, pulse_ms=0, buzzer=True, colour="red"
    )
    assert problems[0].startswith("turnstile.pin_factory: Input should be 'lgpio', 'native' or 'mock'")
    assert "turnstile.entry.relay: GPIO40 does not exist (GPIO0..GPIO27)" in problems
    assert "turnstile.entry.sensor: 'BOARD1' is not a GPIO pin of the 40-pin header" in problems
    assert any(p.startswith("turnstile.pulse_ms: Input should be greater than or equal to 20") for p in problems)
    assert any(p.startswith("turnstile.buzzer: true is not a pin") for p in problems)
    assert "turnstile.colour: unknown key" in problems
    assert len(problems) == 6


def test_wiring_that_cannot_work_is_refused() -> None:
    assert _problems() == ["turnstile.entry: a turnstile needs the pins of at least one direction (entry, exit)"]
    assert _problems(entry=ENTRY, sensor_active_low=False) == [
        "turnstile.sensor_active_low: a pulled-up input is active low (or set sensor_pull)"
    ]
    assert _problems(entry=ENTRY, sensor_pull="down") == [
        "turnstile.sensor_active_low: a pulled-down input is active high (or set sensor_pull)"
    ]
    # With an external resistor either level is fine.
    for level in (True, False):
        parse_config(config_text(turnstile={"entry": ENTRY, "sensor_pull": "none", "sensor_active_low": level}))


def test_a_lane_that_reads_exits_needs_exit_pins(tmp_path: Path, rig: Rig) -> None:
    config = parse_config(config_text(ledger={"path": tmp_path / "l.sqlite"}, turnstile={"entry": ENTRY}))
    assert config.turnstile is not None
    point = DecisionPoint(engine=rig.engine, lanes=["l1"])
    turnstile = Turnstile(point=point, lane_id="l1", config=config.turnstile, pin_factory=rig.factory)

    async def start() -> None:
        async with point, turnstile:
            pass

    with pytest.raises(LaneRefused, match=r"turnstile.exit: lane 'l1' reads exit but has no pins for it"):
        asyncio.run(start())


def test_a_backend_that_cannot_start_here_says_so(rig: Rig) -> None:
    # No lgpio on this machine (it is not a Pi): a clear error, not an ImportError deep inside.
    config = rig.config.model_copy(
        update={"turnstile": rig.config.turnstile.model_copy(update={"pin_factory": "lgpio"})}  # type: ignore[union-attr]
    )
    assert config.turnstile is not None
    point = DecisionPoint(engine=rig.engine, lanes=["l1"])
    turnstile = Turnstile(point=point, lane_id="l1", config=config.turnstile)

    async def start() -> None:
        async with point, turnstile:
            pass

    try:
        import lgpio  # type: ignore[import-not-found]  # noqa: F401, PLC0415
    except ImportError:
        with pytest.raises(LaneHardwareError, match=r"turnstile\.pin_factory 'lgpio' cannot start"):
            asyncio.run(start())
    assert make_factory("mock") is not None
