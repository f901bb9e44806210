"""What the fuzz and property tests share: Hypothesis profiles, and strategies for hostile input.

Importing this module registers two profiles and loads the one `$HYPOTHESIS_PROFILE` names:

- `ci` (the default): at most 200 examples per property, no deadline (2 shared cores make
  timings noisy); each property stays within about 20 s.
- `long`: thousands of examples, to run locally before a release or after touching a parser
  (minutes per property, so without pytest's timeout):
  `HYPOTHESIS_PROFILE=long .venv/bin/pytest -p no:cacheprovider --timeout=0 tests/cache/test_import_fuzz.py`.

A fuzz test module imports it (`from tests import fuzz`) and gives no `max_examples` of its own.
The strategies build what every entry point receives (a line of text, a JSON document, a JSON
object with one field made hostile), so the import, the config, the replay and, once sync
comes, MQTT payloads are fuzzed alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_COMMON: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=200, **_COMMON)
settings.register_profile("long", max_examples=5_000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Numbers where parsers and storage break: past 2^53 (JSON in a browser), past 2^63 (SQLite),
# past the 4 300 digits Python converts, floats that are not numbers in JSON at all.
EDGE_NUMBERS = (
    "0", "-1", "1e400", "-1e400", "1.5", "1e2", "9007199254740992", "9223372036854775808",
    "100000000000000000000", "9" * 5000, "NaN", "Infinity", "-0", "0.0",
)  # fmt: skip
# Strings where text handling breaks: escapes of lone surrogates, NUL, control characters,
# calendar edges, contact details.
EDGE_STRINGS = (
    "", " ", "\\u0000", "\\ud800", "\\udc00x", "\\n", "\x7f", "\u2028", "0001-01-01", "9999-12-31",
    "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00-23:59", "2025-02-30", "24:00", "a@b.c",
    "+33 6 12 34 56 78", "x" * 300,
)  # fmt: skip


def deep(depth: int, opener: str = "[") -> str:
    """A JSON value nested `depth` arrays (or objects) deep."""
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value, with big integers and odd strings more likely than chance makes them."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**53 - 2, max_value=2**64 + 2),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
        st.sampled_from(["2025-10-04", "2025-10-04T20:00:00+02:00", "09:00", "day", "entry", "ticket", "holder"]),
    )
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=max_leaves,
    )


def raw_values() -> st.SearchStrategy[str]:
    """The text of a JSON value as a hostile sender writes it: valid JSON, edge numbers and
    strings, values nested far too deep, or not JSON at all."""
    return st.one_of(
        json_values().map(lambda value: json.dumps(value, ensure_ascii=False)),
        st.sampled_from(EDGE_NUMBERS),
        st.sampled_from(EDGE_STRINGS).map(lambda text: f'"{text}"'),
        st.integers(min_value=33, max_value=3_000).map(deep),
        st.integers(min_value=33, max_value=3_000).map(lambda n: deep(n, "{")),
        st.text(max_size=20),
    )


def mutated(obj: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """A JSON object (one line) with one field replaced, added or removed: mostly valid
    around one hostile value, which is where a parser's checks are tested hardest."""
    keys = sorted(obj)

    def replaced(key: str, raw: str) -> str:
        fields = [f"{json.dumps(k)}:{raw if k == key else json.dumps(v, ensure_ascii=False)}" for k, v in obj.items()]
        if key not in obj:
            fields.append(f"{json.dumps(key)}:{raw}")
        return "{" + ",".join(fields) + "}"

    def removed(key: str) -> str:
        return json.dumps({k: v for k, v in obj.items() if k != key}, ensure_ascii=False)

    some_key = st.sampled_from(keys) | st.text(max_size=12)
    return st.one_of(
        st.builds(replaced, some_key, raw_values()),
        st.sampled_from(keys).map(removed),
    )
