"""The [daemon] section: defaults, paths relative to the config file, the lane it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.config import ConfigError, load_config, parse_config
from gate.daemon.run import choose_lane
from tests.configs import ConfigFile, config_text

# Two lanes: a daemon must be told which one it runs.
TWO_LANES = {"lanes": {"l1": None, "a": {"zone": "main"}, "b": {"zone": "main"}}}


def test_defaults_and_relative_socket(tmp_path: Path, config_file: ConfigFile) -> None:
    assert str(parse_config(config_text(TWO_LANES)).daemon.control_socket) == "/run/gate/control.sock"
    path = config_file(TWO_LANES, daemon={"lane": "b", "control_socket": "run/c.sock"}, name="etc/gate.toml")
    config = load_config(path)
    assert config.daemon.control_socket == tmp_path / "etc" / "run" / "c.sock"
    assert choose_lane(config, None, source="f") == "b"
    assert choose_lane(config, "a", source="f") == "a"


def test_every_problem_by_key_path() -> None:
    text = config_text(TWO_LANES, daemon={"lane": "c", "watchdog": {"max_loop_lag_s": 0}, "clock": {"max_jump": 5}})
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.problems == [
        "daemon.watchdog.max_loop_lag_s: Input should be greater than 0",
        "daemon.clock.max_jump: unknown key",
    ]
    with pytest.raises(ConfigError) as unknown:
        parse_config(config_text(TWO_LANES, daemon={"lane": "c"}))
    assert unknown.value.problems == ["daemon.lane: unknown lane 'c' (lanes: a, b)"]


def test_the_lane_to_run() -> None:
    config = parse_config(config_text(TWO_LANES))
    with pytest.raises(ConfigError, match=r"daemon\.lane: required when the config has several lanes"):
        choose_lane(config, None, source="f")
    single = parse_config(config_text(TWO_LANES, lanes={"b": None}))
    assert choose_lane(single, None, source="f") == "a"
