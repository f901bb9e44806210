"""The config file: what an operator sees for a good file and for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import ConfigError, load_config, parse_config
from tests.configs import ConfigFile, config_text

EXAMPLE = Path(__file__).parent.parent / "config" / "gate.example.toml"

GOOD = config_text()  # one zone, one lane l1, the ledger beside the file


def test_the_documented_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.site.timezone == "Europe/Paris"
    assert config.lanes["hall-kiosk"].kiosk
    assert config.engine.zero_price_takes_credit is False


def test_defaults_fill_what_a_small_venue_leaves_out() -> None:
    config = parse_config(GOOD)
    lane = config.lanes["l1"]
    assert (lane.mode, lane.directions, lane.kiosk) == ("live", ("entry", "exit"), False)
    assert config.site.capacity is None


def test_relative_ledger_path_is_relative_to_the_config_file(tmp_path: Path, config_file: ConfigFile) -> None:
    file = config_file(name="etc/gate.toml")
    assert load_config(file).ledger.path == tmp_path / "etc" / "ledger.sqlite"


def test_every_problem_is_reported_at_once_by_key_path() -> None:
    bad = config_text(
        site={"timezone": "Europe/Atlantis", "capacity": -3, "colour": "blue"},
        lanes={"l1": {"mode": "production"}},
        ledger={"path": None},
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(bad, source="gate.toml")
    problems = caught.value.problems
    joined = "\n".join(problems)
    assert "site.timezone: unknown IANA time zone 'Europe/Atlantis'" in joined
    assert any(p.startswith("site.capacity:") for p in problems)
    assert "site.colour: unknown key" in problems
    assert any(p.startswith("lanes.l1.mode:") for p in problems)
    assert any(p.startswith("ledger.path:") for p in problems)
    assert len(problems) == 5
    assert str(caught.value).startswith("gate.toml: 5 problem(s)")


def test_a_lane_in_an_unknown_zone_names_the_lane_and_the_zones() -> None:
    text = config_text(lanes={"l1": {"zone": "hall"}})
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems == ["lanes.l1.zone: unknown zone 'hall' (zones: main)"]


def test_broken_toml_says_where() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[site\nname = 1", source="x.toml")
    assert "not valid TOML" in caught.value.problems[0]
    assert "line 1" in caught.value.problems[0]


def test_unreadable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.toml")
    assert "cannot read" in caught.value.problems[0]
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError):
        load_config(binary)


CAMERA = {"type": "camera", "lane": "l1", "source": "file:/tmp/x.mp4"}
EXIT = {"type": "serial", "lane": "l1", "direction": "exit", "port": "/dev/ttyACM0"}
READERS = config_text(readers={"cam": CAMERA, "exit": EXIT})


def test_readers_of_each_type_are_accepted() -> None:
    config = parse_config(READERS)
    assert config.readers["cam"].type == "camera"
    assert config.readers["exit"].direction == "exit"
    assert load_config(EXAMPLE).readers["kiosk-wedge"].type == "wedge"


def test_reader_mistakes_are_named_by_key_path() -> None:
    bad = config_text(
        readers={
            "cam": {**CAMERA, "lane": "l9"},
            "exit": EXIT,
            "odd": {"type": "laser", "lane": "l1"},
            "typo": {"type": "serial", "lane": "l1", "port": "/dev/ttyUSB0", "parity": "even"},
        }
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(bad)
    joined = "\n".join(caught.value.problems)
    assert "readers.odd: Input tag 'laser' found using 'type' does not match" in joined
    assert "readers.typo.serial.parity: unknown key" in joined


def test_a_reader_on_an_unknown_lane_or_direction() -> None:
    bad = config_text(lanes={"l1": {"directions": ["entry"]}}, readers={"cam": {**CAMERA, "lane": "l9"}, "exit": EXIT})
    with pytest.raises(ConfigError) as caught:
        parse_config(bad)
    assert caught.value.problems == [
        "readers.cam.lane: unknown lane 'l9' (lanes: l1)",
        "readers.exit.direction: lane 'l1' has no exit direction",
    ]
