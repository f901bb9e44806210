"""Fuzzing the config loader and the replay parser in process: whatever a file holds, the
answer is a config, a ConfigError listing problems by key path, a scan, or a ReplayLineError
naming its line; never another exception. Profiles: tests/fuzz.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from gate.cli.replay import ReplayLineError, ScanLine, read_scans
from gate.config import ConfigError, GateConfig, load_config, parse_config
from gate.provision.toml import dumps as render
from tests import fuzz
from tests.configs import config_data, config_text

# --- the config loader -----------------------------------------------------------------------


def _keys(annotation: Any, found: set[str]) -> set[str]:
    """Every key name of a model (or of the models inside a type), nested ones too."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            found.add(name)
            _keys(field.annotation, found)
    for arg in getattr(annotation, "__args__", ()):
        _keys(arg, found)
    return found


KEYS = sorted(_keys(GateConfig, set()) | {"colour"})
# Each section's own keys, so a hostile value lands where it is checked more often than not.
SECTION_KEYS = {name: sorted(_keys(field.annotation, {"colour"})) for name, field in GateConfig.model_fields.items()}

# What TOML can hold (no null), hostile where it can be: huge and non-finite numbers, control
# characters and NUL in text, the wrong shapes.
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**53 - 2, max_value=2**64 + 2),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\x00b", "no", "yes", "17", "GPIO17", "BOARD11", "Europe", "../x", "/dev/null"]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    max_leaves=10,
)


def _section(name: str) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(SECTION_KEYS[name]) | st.sampled_from(["l1", "main", "entry", "lamps"]) | st.text(max_size=8)
    table = st.dictionaries(keys, toml_values, max_size=4)
    # zones, lanes and readers are tables of tables by id
    return st.dictionaries(st.sampled_from(["l1", "main", "r"]), table, max_size=2) | table | toml_scalars


overrides = st.lists(st.sampled_from(sorted(SECTION_KEYS)), max_size=3, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({name: _section(name) for name in names})
)

toml_lines = st.one_of(
    st.sampled_from(["[site]", "[lanes.l1]", "[turnstile.entry]", "[[readers]]", "[daemon.watchdog]", "[", "]"]),
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(KEYS), st.sampled_from(fuzz.EDGE_NUMBERS) | fuzz.raw_values()),
    st.text(max_size=30),
)
toml_texts = st.one_of(
    st.text(max_size=200),
    st.lists(toml_lines, max_size=12).map("\n".join),
    st.lists(toml_lines, max_size=6).map(lambda lines: config_text() + "\n".join(lines)),
    st.integers(min_value=10, max_value=5_000).map(lambda n: "a = " + "[" * n + "]" * n),
)


def _loaded_or_refused(config: Any) -> None:
    """What a config that loaded must give the rest of gate: a zone and paths that resolve."""
    assert isinstance(config, GateConfig)
    ZoneInfo(config.site.timezone)
    assert config.ledger.path.is_absolute()


@given(text=toml_texts)
def test_any_text_is_a_config_or_its_problems(text: str) -> None:
    try:
        parse_config(text, source="fuzz.toml")
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-fuzz")


@given(changes=overrides)
def test_any_config_file_loads_or_lists_its_problems(folder: Path, changes: Mapping[str, Any]) -> None:
    path = folder / "gate.toml"
    path.write_text(render(config_data(changes)), encoding="utf-8")
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert exc.problems and all("\n" not in p for p in exc.problems)
    else:
        _loaded_or_refused(config)


# --- the replay parser -----------------------------------------------------------------------

SCAN = {"at": "2026-06-01T12:00+02:00", "lane": "l1", "code": "TICKET-1", "party": 1, "items": ["entry-adult"]}
PARIS = ZoneInfo("Europe/Paris")

scan_lines = st.one_of(
    fuzz.mutated(SCAN).map(lambda line: line.encode("utf-8", "surrogatepass")),
    fuzz.raw_values().map(lambda line: line.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.just(json.dumps(SCAN).encode()),
    st.none(),  # a line cut at MAX_LINE
)


@given(lines=st.lists(scan_lines, max_size=8))
def test_any_replay_file_is_scans_or_bad_lines(lines: list[bytes | None]) -> None:
    results = list(read_scans(lines, tz=PARIS, lanes=("l1", "kiosk")))
    latest = None
    for result in results:
        assert isinstance(result, ScanLine | ReplayLineError)
        assert 1 <= result.line <= len(lines)
        if isinstance(result, ScanLine):
            assert latest is None or result.at >= latest  # what is decided is in time order
            latest = result.at
        else:
            assert result.problem and "\n" not in result.problem
