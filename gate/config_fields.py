"""Field types of the config file (gate.config): strict, bounded, and named in an operator's words.

The config's models validate in pydantic's strict mode: a value must already have the type
TOML gives it (`kiosk = "no"` is not false, `pulse_ms = "200"` is not 200). These types
cover the places where TOML's own type is not the model's: a list that becomes a tuple, a
string that becomes a path, a pin given as `GPIO17` or `BOARD11`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux


def short(text: str) -> str:
    """`text` quoted, cut after 40 characters: an error message stays one readable line."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _listed(value: object) -> object:
    """A TOML array as the tuple the model keeps; anything else for pydantic to refuse."""
    return tuple(value) if isinstance(value, list) else value


# A TOML array of T (kept as a tuple): `directions = ["entry"]`.
Listed = Annotated[tuple[T, ...], BeforeValidator(_listed)]


def _path(value: object) -> object:
    if not isinstance(value, str):
        return value  # pydantic reports the wrong type
    if not value:
        raise ValueError("an empty path: give a file name")
    if "\x00" in value:
        raise ValueError("a path cannot contain a NUL byte (\\u0000)")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no file system name
        raise ValueError("a path must be UTF-8 text") from None
    if size > MAX_PATH_BYTES:
        raise ValueError(f"a path of more than {MAX_PATH_BYTES} bytes")
    return Path(value)


# A file system path given as TOML text: not empty, no NUL byte, at most PATH_MAX bytes.
ConfigPath = Annotated[Path, BeforeValidator(_path)]


def _printable(text: str) -> str:
    if not text.isprintable():
        raise ValueError("contains a control character (a line break, a tab, a NUL...)")
    return text


# Text shown to people or handed to a device (a name, a port): one printable line.
Line = Annotated[str, AfterValidator(_printable)]


_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _host(name: str) -> str:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        labels = name.removesuffix(".").split(".")
        if not (0 < len(name) <= 253 and name.isascii() and all(_HOST_LABEL.fullmatch(label) for label in labels)):
            raise ValueError(f"not an IP address or host name: {short(name)} (e.g. 127.0.0.1, localhost)") from None
    return name


# An address to listen on: an IPv4 or IPv6 address, or a host name (letters, digits, hyphens, dots).
Host = Annotated[str, AfterValidator(_host)]

# One level of an MQTT topic (a site, a device): letters, digits, `.`, `_`, `-`. Never `/`, `+`
# or `#`, which would change what its topics mean, nor the other signs a record's id may hold.
TopicLevel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise ValueError(f"unknown IANA time zone {short(name)}") from None
    return name


ZoneName = Annotated[str, AfterValidator(_zone)]


def _region(value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
    if value is not None:
        x, y, width, height = value
        if not (0 <= x <= 65_535 and 0 <= y <= 65_535 and 1 <= width <= 65_535 and 1 <= height <= 65_535):
            raise ValueError("x and y from 0, width and height from 1, each at most 65535 pixels")
    return value


Region = Annotated[tuple[int, int, int, int], BeforeValidator(_listed), AfterValidator(_region)]


def given(value: object) -> str:
    """A value as the operator wrote it, for 'expected X, got text "no"' (never more than a line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"the integer {value}" if abs(value) < 10**18 else "a very large integer"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"text {short(value)}"
    kinds = (
        (list, "a list"),
        (dict, "a table"),
        (dt.datetime, "a date-time"),
        (dt.date, "a date"),
        (dt.time, "a time"),
    )
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


# --- pins ------------------------------------------------------------------------------------

# The Raspberry Pi's 40-pin header: physical pin -> BCM GPIO number, so that `BOARD11` and
# `17` are known to be one pin when the config is checked for a pin used twice.
_BOARD_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10, 21: 9, 22: 25,
    23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
}  # fmt: skip
_MAX_GPIO = 27


def _number(text: str) -> int | None:
    """ASCII digits as an int (not '١٧', nor 5000 digits), else None."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def bcm(value: object) -> object:
    """A pin as its BCM GPIO number: 17, "17", "GPIO17", "BCM17", "BOARD11" or "J8:11"."""
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a pin: use a GPIO number (17) or GPIO17, BCM17, BOARD11")
    if not isinstance(value, int | str):
        return value  # pydantic reports the wrong type
    if isinstance(value, int):
        number = value
    else:
        text = value.strip().upper()
        board = text.removeprefix("BOARD").removeprefix("J8:")
        if board != text:
            physical = _number(board)
            if physical not in _BOARD_TO_BCM:
                raise ValueError(f"{short(value)} is not a GPIO pin of the 40-pin header")
            return _BOARD_TO_BCM[physical]
        found = _number(text.removeprefix("GPIO").removeprefix("BCM"))
        if found is None:
            raise ValueError(f"{short(value)} is not a pin: use a GPIO number (17) or GPIO17, BCM17, BOARD11, J8:11")
        number = found
    if not 0 <= number <= _MAX_GPIO:
        shown = number if abs(number) < 10**6 else "..."
        raise ValueError(f"GPIO{shown} does not exist (GPIO0..GPIO{_MAX_GPIO})")
    return number


Pin = Annotated[int, BeforeValidator(bcm)]

# Every pin key of [turnstile], in the order clashes are reported.
PIN_KEYS = (
    ("entry", "relay"), ("entry", "sensor"), ("exit", "relay"), ("exit", "sensor"),
    ("lamps", "green"), ("lamps", "red"), ("lamps", "amber"),
    ("lock_output",), ("alarm_input",), ("fire_loop",), ("buzzer",),
)  # fmt: skip


def clashes(pins: Iterable[tuple[str, int]]) -> list[str]:
    """'key: GPIOn is already used by other.key' for each pin (key path, GPIO) used again."""
    problems: list[str] = []
    seen: dict[int, str] = {}
    for key, pin in pins:
        if pin in seen:
            problems.append(f"{key}: GPIO{pin} is already used by {seen[pin]}")
        else:
            seen[pin] = key
    return problems


def raw_clashes(turnstile: object) -> list[str]:
    """`clashes` of a [turnstile] table as TOML gave it, before (or whatever) its validation:
    a pin used twice is reported even when another key of the section is wrong."""
    if not isinstance(turnstile, Mapping):
        return []
    pins: list[tuple[str, int]] = []
    for keys in PIN_KEYS:
        value: Any = turnstile
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        try:
            pin = bcm(value) if value is not None else None
        except ValueError:
            continue  # reported as that key's own problem
        if isinstance(pin, int) and not isinstance(pin, bool):
            pins.append(("turnstile." + ".".join(keys), pin))
    return clashes(pins)


class Section(BaseModel):
    """A section of the config file. Strict: TOML already gives each value its type, so a quoted
    number or "no" is a mistake; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
