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

from gate.provision.toml import dumps as render

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


def _copy(value: Any) -> Any:
    return merged({}, value) if isinstance(value, Mapping) else value
