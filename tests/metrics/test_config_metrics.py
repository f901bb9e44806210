"""`[metrics]` and `[homeassistant]` as `gate config check` and every process read them: a bad address or
a device id Home Assistant cannot take is said by its key, with the rest of the file's problems."""

from __future__ import annotations

import pytest

from gate.config import ConfigError, parse_config
from tests.configs import config_text


def _problems(**sections: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text(**sections), source="gate.toml")
    return caught.value.problems


def test_off_by_default_and_an_address_per_process() -> None:
    config = parse_config(config_text())
    assert (config.metrics.daemon, config.metrics.sync, config.metrics.hub) == (None, None, None)
    assert config.homeassistant.discovery is False
    config = parse_config(config_text(metrics={"daemon": "0.0.0.0:9110", "sync": "[::1]:9111"}))
    assert (config.metrics.daemon, config.metrics.sync) == ("0.0.0.0:9110", "[::1]:9111")


def test_bad_addresses_are_said_by_their_key() -> None:
    problems = _problems(metrics={"daemon": "9110", "sync": "::1:9111", "hub": "127.0.0.1:99999", "lane": "x:1"})
    assert "metrics.daemon: not host:port: '9110' (e.g. 127.0.0.1:9110, [::1]:9110, 0.0.0.0:9110)" in problems
    assert any(p.startswith("metrics.sync: not host:port: '::1:9111' (an IPv6 address goes in brackets")
               for p in problems)  # fmt: skip
    assert any(p.startswith("metrics.hub: not host:port: '127.0.0.1:99999'") for p in problems)
    assert "metrics.lane: unknown key" in problems


def test_discovery_needs_a_device_id_home_assistant_can_take() -> None:
    problems = _problems(device={"id": "lane.north"}, homeassistant={"discovery": True, "prefix": "ha/x"})
    assert "homeassistant.prefix: letters, digits, - and _ only: 'ha/x'" in problems
    problems = _problems(device={"id": "lane.north"}, homeassistant={"discovery": True})
    assert problems == ["homeassistant.discovery: device.id 'lane.north': Home Assistant's discovery topic takes "
                        "letters, digits, - and _ only"]  # fmt: skip
    assert parse_config(config_text(device={"id": "lane.north"})).homeassistant.discovery is False  # off: no matter
