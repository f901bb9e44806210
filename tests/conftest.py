"""Fixtures every test folder shares."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.configs import ConfigFile, write_config


@pytest.fixture
def config_file(tmp_path: Path) -> ConfigFile:
    """Writes a test config (tests/configs.py) in the test's folder: `config_file(lanes=..., name="etc/gate.toml")`."""

    def write(*layers: Mapping[str, Any], name: str = "gate.toml", **sections: Any) -> Path:
        return write_config(tmp_path / name, *layers, **sections)

    return write
