"""The [daemon] section: defaults, paths relative to the config file, the lane it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import ConfigError, load_config, parse_config
from gate.daemon.run import choose_lane

BASE = """
[site]
name = "V"
timezone = "Europe/Paris"
[zones.main]
name = "Main"
[lanes.a]
zone = "main"
[lanes.b]
zone = "main"
[ledger]
path = "ledger.sqlite"
"""


def test_defaults_and_relative_socket(tmp_path: Path) -> None:
    assert str(parse_config(BASE).daemon.control_socket) == "/run/gate/control.sock"
    path = tmp_path / "etc" / "gate.toml"
    path.parent.mkdir()
    path.write_text(BASE + '[daemon]\nlane = "b"\ncontrol_socket = "run/c.sock"\n')
    config = load_config(path)
    assert config.daemon.control_socket == tmp_path / "etc" / "run" / "c.sock"
    assert choose_lane(config, None, source="f") == "b"
    assert choose_lane(config, "a", source="f") == "a"


def test_every_problem_by_key_path() -> None:
    text = BASE + '[daemon]\nlane = "c"\nwatchdog = { max_loop_lag_s = 0 }\nclock = { max_jump = 5 }\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems == [
        "daemon.watchdog.max_loop_lag_s: Input should be greater than 0",
        "daemon.clock.max_jump: unknown key",
    ]
    with pytest.raises(ConfigError) as unknown:
        parse_config(BASE + '[daemon]\nlane = "c"\n')
    assert unknown.value.problems == ["daemon.lane: unknown lane 'c' (lanes: a, b)"]


def test_the_lane_to_run() -> None:
    config = parse_config(BASE)
    with pytest.raises(ConfigError, match=r"daemon\.lane: required when the config has several lanes"):
        choose_lane(config, None, source="f")
    single = parse_config(BASE.replace('[lanes.b]\nzone = "main"\n', ""))
    assert choose_lane(single, None, source="f") == "a"
