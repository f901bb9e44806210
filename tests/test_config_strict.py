"""The config is strict: no value is coerced, every number has a range, every path is a path,
and each mistake is reported with the others, by key path, never as a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import ConfigError, load_config, parse_config
from tests.configs import ConfigFile, config_text

ENTRY = {"relay": 17, "sensor": 27}
CAMERA = {"type": "camera", "lane": "l1", "source": "/dev/video0"}


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="gate.toml")
    return caught.value.problems


def test_a_value_of_another_type_is_refused_not_coerced() -> None:
    problems = _problems(
        config_text(
            site={"capacity": "100"},
            lanes={"l1": {"kiosk": "no"}},
            engine={"zero_price_takes_credit": 0},
            kiosk={"inactivity_s": "60", "session_cap_s": True},
            readers={"w": {"type": "wedge", "lane": "l1", "device": "/dev/input/scanner0", "grab": "yes"}},
            turnstile={"entry": ENTRY, "pulse_ms": 200.0, "relay_active_high": 1},
        )
    )
    assert problems == [
        "site.capacity: Input should be a valid integer, got text '100'",
        "lanes.l1.kiosk: Input should be a valid boolean, got text 'no'",
        "engine.zero_price_takes_credit: Input should be a valid boolean, got the integer 0",
        "kiosk.inactivity_s: Input should be a valid number, got text '60'",
        "kiosk.session_cap_s: Input should be a valid number, got true",
        "readers.w.wedge.grab: Input should be a valid boolean, got text 'yes'",
        "turnstile.relay_active_high: Input should be a valid boolean, got the integer 1",
        "turnstile.pulse_ms: Input should be a valid integer, got the number 200.0",
    ]


def test_numbers_out_of_range_and_non_finite_are_refused() -> None:
    problems = _problems(
        config_text(
            site={"capacity": 10**7},
            kiosk={"inactivity_s": float("nan"), "session_cap_s": float("inf")},
            readers={
                "s": {"type": "serial", "lane": "l1", "port": "/dev/ttyACM0", "baudrate": 10**9, "max_length": 10**9},
                "c": {**CAMERA, "region": [-5, 0, 0, 480], "max_side": 10**6},
            },
        )
    )
    assert [p.split(":")[0] for p in problems] == [
        "site.capacity",
        "kiosk.inactivity_s",
        "kiosk.session_cap_s",
        "readers.s.serial.baudrate",
        "readers.s.serial.max_length",
        "readers.c.camera.region",
        "readers.c.camera.max_side",
    ]
    assert "kiosk.inactivity_s: Input should be a finite number, got the number nan" in problems
    assert "readers.c.camera.region: x and y from 0, width and height from 1, each at most 65535 pixels" in problems


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"ledger": {"path": "ledger\x00.sqlite"}}, "ledger.path"),
        ({"daemon": {"control_socket": "run/\x00c.sock"}}, "daemon.control_socket"),
        ({"readers": {"w": {"type": "wedge", "lane": "l1", "device": "/dev/input/\x00"}}}, "readers.w.wedge.device"),
    ],
)
def test_a_nul_byte_in_a_path_is_named_by_its_key(
    config_file: ConfigFile, sections: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(config_file(**sections))
    assert caught.value.problems == [f"{key}: a path cannot contain a NUL byte (\\u0000)"]


def test_an_empty_or_unusable_path_is_named_by_its_key(config_file: ConfigFile, tmp_path: Path) -> None:
    assert _problems(config_text(ledger={"path": ""})) == ["ledger.path: an empty path: give a file name"]
    deep = "d" * 200 + "/control.sock"  # resolved beside the config: past a unix socket's 107 bytes
    with pytest.raises(ConfigError) as caught:
        load_config(config_file(daemon={"control_socket": deep}))
    (problem,) = caught.value.problems
    assert problem.startswith("daemon.control_socket: ")
    assert "a unix socket's limit is 107" in problem


def test_names_and_ports_are_one_printable_line() -> None:
    problems = _problems(
        config_text(
            site={"name": "Venue\nDrop table"},
            zones={"main": {"name": "Main\x00"}},
            readers={"s": {"type": "serial", "lane": "l1", "port": "/dev/tty\x00ACM0"}},
        )
    )
    assert [p.split(":")[0] for p in problems] == ["site.name", "zones.main.name", "readers.s.serial.port"]
    assert all("control character" in p for p in problems)


def test_a_time_zone_that_is_a_folder_or_too_long_is_unknown_not_a_crash() -> None:
    assert _problems(config_text(site={"timezone": "Europe"})) == ["site.timezone: unknown IANA time zone 'Europe'"]
    (problem,) = _problems(config_text(site={"timezone": "Europe/" + "x" * 5000}))
    assert problem.startswith("site.timezone: unknown IANA time zone 'Europe/xxx")
    assert len(problem) < 120


def test_a_pin_used_twice_is_reported_beside_another_mistake_of_its_section() -> None:
    problems = _problems(
        config_text(turnstile={"entry": {"relay": 17, "sensor": "BOARD11"}, "buzzer": "GPIO99", "pulse_ms": "200"})
    )
    assert problems == [
        "turnstile.pulse_ms: Input should be a valid integer, got text '200'",
        "turnstile.buzzer: GPIO99 does not exist (GPIO0..GPIO27)",
        "turnstile.entry.sensor: GPIO17 is already used by turnstile.entry.relay",
    ]


def test_pins_are_ascii_numbers_of_a_sane_length() -> None:
    problems = _problems(config_text(turnstile={"entry": {"relay": "GPIO\u0661\u0667", "sensor": "GPIO" + "9" * 5000}}))
    assert problems[0].startswith("turnstile.entry.relay: 'GPIO١٧' is not a pin")
    assert problems[1].startswith("turnstile.entry.sensor: 'GPIO9999")
    assert all(len(p) < 160 for p in problems)


def test_input_no_config_could_be_is_refused_in_one_line(tmp_path: Path) -> None:
    assert _problems("a = " + "[" * 100_000) == ["not valid TOML: arrays or tables nested too deeply"]
    huge = tmp_path / "huge.toml"
    huge.write_text(config_text() + "#" * 1_000_000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(huge)
    assert caught.value.problems == ["longer than 1000000 characters: not a config file"]


def test_an_unknown_key_that_is_no_word_is_quoted_so_its_problem_stays_one_line() -> None:
    problems = _problems(config_text(site={"line\nbreak": 1, "x" * 300: 2}))
    assert problems == ["site.'line\\nbreak': unknown key", f"site.'{'x' * 40}...': unknown key"]


def test_a_number_too_long_to_read_is_a_toml_problem() -> None:
    assert _problems("a = " + "9" * 5000) == ["not valid TOML: a number of more than 4300 digits"]


@pytest.mark.parametrize("name", ["lane/north", "lane+1", "#", "lane:1", "lane@venue"])
def test_a_device_or_site_id_that_would_change_its_topics_is_refused(name: str) -> None:
    problems = _problems(config_text(device={"id": name}, sync={"site": name}))
    assert [p.split(":")[0] for p in problems] == ["device.id", "sync.site"]
