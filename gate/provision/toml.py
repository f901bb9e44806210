"""TOML text for what a gate config holds (tables, strings, paths, numbers, booleans, lists):
`gate provision` writes the device's config with it. Python reads TOML (tomllib) but writes none."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def dumps(data: Mapping[str, Any]) -> str:
    """`data` as TOML, one `[table]` header per table (the tests write configs, bad ones too, with it)."""
    lines: list[str] = []
    _table(lines, (), data)
    return "\n".join(lines).lstrip("\n") + "\n"


def render(data: Mapping[str, Any]) -> str:
    """`dumps(data)`, checked: read back, it is `data` again."""
    text = dumps(data)
    if tomllib.loads(text) != _plain(data):
        raise ValueError("the TOML written does not read back as the data given")  # a bug, never an input
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value


def _table(lines: list[str], keys: tuple[str, ...], table: Mapping[str, Any]) -> None:
    values = [(key, value) for key, value in table.items() if not isinstance(value, Mapping)]
    tables = [(key, value) for key, value in table.items() if isinstance(value, Mapping)]
    # A table holding only tables needs no header of its own ([zones.main] implies [zones]).
    if keys and (values or not tables):
        lines += ["", f"[{'.'.join(_key(k) for k in keys)}]"]
    lines += [f"{_key(key)} = {_value(value)}" for key, value in values]
    for key, value in tables:
        _table(lines, (*keys, key), value)


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _string(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # 0.3, 1e-05, inf and nan are TOML as they are
    if isinstance(value, str | Path):
        return _string(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    # tomllib's dates and times come back as these: ISO text is TOML's own form for them.
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"no TOML for {type(value).__name__}")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    def escaped(c: str) -> str:
        if c in _ESCAPES:
            return _ESCAPES[c]
        return f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c

    return '"' + "".join(escaped(c) for c in text) + '"'
