"""Test configs: one base config file, and each test changes only what it is about.

`config_text(lanes={"l1": {"kiosk": True}}, kiosk={"inactivity_s": 2})` is the base with those
keys merged in; layers given first (a conftest's lane with its turnstile, say) are merged before the
keyword sections. Tables merge key by key, any other value replaces; `None` removes a key or a
whole section (TOML has no null): `lanes={"l1": None, "a": {"zone": "main"}}` renames the lane.

The text is plain TOML with one `[table]` header per table, in the order the keys were given, so
a test may still edit the written file as text (`[turnstile]\\n`, `sensor = 27`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# What most tests share: one zone, one lane in it, a ledger beside the config file.
BASE: Mapping[str, Any] = {
    "site": {"name": "Test venue", "timezone": "Europe/Paris"},
    "zones": {"main": {"name": "Main"}},
    "lanes": {"l1": {"zone": "main"}},
    "ledger": {"path": "ledger.sqlite"},
}

# The `config_file` fixture (tests/conftest.py): `config_file(*layers, name="gate.toml", **sections)`.
ConfigFile = Callable[..., Path]


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `override` merged in (neither is changed): tables key by key, None removes."""
    result = {key: _copy(value) for key, value in base.items()}
    for key, value in override.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = _copy(value)
    return result


def config_data(*layers: Mapping[str, Any], **sections: Any) -> dict[str, Any]:
    """The base config with each layer, then the keyword sections, merged in (see the module's doc)."""
    data = dict(BASE)
    for layer in (*layers, sections):
        data = merged(data, layer)
    return data


def config_text(*layers: Mapping[str, Any], **sections: Any) -> str:
    """`config_data(...)` as TOML text, ready for `parse_config`."""
    return render(config_data(*layers, **sections))


def write_config(path: Path, *layers: Mapping[str, Any], **sections: Any) -> Path:
    """Write `config_text(...)` to `path` (its folder made if missing); returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_text(*layers, **sections), encoding="utf-8")
    return path


def render(data: Mapping[str, Any]) -> str:
    """TOML for what a gate config holds: tables, strings, paths, numbers, booleans and lists."""
    lines: list[str] = []
    _table(lines, (), data)
    return "\n".join(lines).lstrip("\n") + "\n"


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
    raise TypeError(f"no TOML for {value!r} ({type(value).__name__})")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    def escaped(c: str) -> str:
        if c in _ESCAPES:
            return _ESCAPES[c]
        return f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c

    return '"' + "".join(escaped(c) for c in text) + '"'


def _copy(value: Any) -> Any:
    return merged({}, value) if isinstance(value, Mapping) else value
