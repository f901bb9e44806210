"""Line-by-line validation of the exchange format: each line becomes a staged row or problems.

This is the per-line half of an import (see `exchange`): it looks at one line at a time, so
a file of any size is checked in constant memory. Checks that span lines (the same version
twice with different content, a membership whose product cannot give it an expiry) are done
in SQL over the staged rows.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from gate.bounds import Version
from gate.cache.codec import ENTITLEMENT_CLASSES, body_of, predecessor_of
from gate.cache.errors import ImportProblem
from gate.records import (
    IMPORT_CONTEXT,
    PERSONAL_DATA_KEYS,
    RECORD_TYPES,
    LedgerRecord,
    Membership,
    Product,
    Tombstone,
)

FORMAT = "gate-ledger"
FORMAT_VERSION = 1
MAX_LINE_BYTES = 1_000_000
MAX_DEPTH = 32  # arrays and objects in one another; a record needs 6
MAX_PROBLEMS = 200

_RECORD: TypeAdapter[LedgerRecord] = TypeAdapter(LedgerRecord)
_TOMBSTONE = TypeAdapter(Tombstone)
_TAGS = frozenset(RECORD_TYPES) | frozenset(ENTITLEMENT_CLASSES) | {"entry", "discount"}


class Header(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["header"]
    format: str
    version: Version


class Staged(NamedTuple):
    """One valid line, as a row of the temporary table `import_stage`."""

    type: str
    id: str
    version: int
    deleted: int
    line: int
    body: str | None
    kind: str | None
    holder: str | None
    mode: str | None
    state: str | None
    purchased_at: float | None
    predecessor: str | None
    product: str | None
    # membership: 1 = no expires_on (needs its product's validity); product: 1 = has a validity
    flag: int


class Problems:
    """Problems found so far: all are counted, the first MAX_PROBLEMS are kept."""

    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        self.kept: list[ImportProblem] = []
        self.total = 0
        self._limit = limit

    def add(self, line: int, field: str, message: str) -> None:
        self.total += 1
        if len(self.kept) < self._limit:
            self.kept.append(ImportProblem(line, field, message))

    def merge(self, kept: list[ImportProblem], total: int) -> None:
        """Add what another checker found on later lines (a worker's chunk)."""
        self.total += total
        self.kept.extend(kept[: max(0, self._limit - len(self.kept))])

    def sorted(self) -> list[ImportProblem]:
        return sorted(self.kept, key=lambda p: (p.line, p.field))


NumberedLine = tuple[int, str | None, str | None]  # line number, text, or why it is unreadable


def numbered(lines: Iterable[str]) -> Iterator[NumberedLine]:
    for number, text in enumerate(lines, start=1):
        if len(text) > MAX_LINE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES + 2:
            yield number, None, _too_long()
        else:
            yield number, text, None


def file_lines(path: Path) -> Iterator[NumberedLine]:
    """The lines of a file, each decoded on its own so one bad byte spoils only its line."""
    with path.open("rb") as stream:
        number = 0
        while raw := stream.readline(MAX_LINE_BYTES + 3):
            number += 1
            if len(raw) > MAX_LINE_BYTES + 2 or (len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n")):
                while raw and not raw.endswith(b"\n"):
                    raw = stream.readline(1 << 20)
                yield number, None, _too_long()
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a byte order mark some editors write
            try:
                yield number, raw.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                yield number, None, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"


def _too_long() -> str:
    return f"line is longer than {MAX_LINE_BYTES // 1_000_000} MB"


class LineChecker:
    """Validates lines in file order; remembers the header and counts lines per type."""

    def __init__(self, *, first: bool = True) -> None:
        self.problems = Problems()
        self.lines: Counter[str] = Counter()  # record and tombstone lines per type
        self._first = first  # whether the next non-blank line is the file's first (a header's place)

    @property
    def expects_first(self) -> bool:
        return self._first

    def check_numbered(self, item: NumberedLine) -> Staged | None:
        number, text, unreadable = item
        if text is None:
            self.problems.add(number, "", unreadable or "unreadable line")
            return None
        return self.check(number, text)

    def check(self, number: int, text: str) -> Staged | None:
        text = text.rstrip("\r\n")
        if not text.strip():
            return None
        first, self._first = self._first, False
        # Nesting is checked before Python's json parses a line (a header, a tombstone, a
        # line to explain), and on a line pydantic refused: its own parser stops at a depth
        # limit without recursing, and no valid record nests more than 6 deep, so a good
        # line never pays for the scan.
        header, tombstone = '"header"' in text, '"deleted"' in text
        if (header or tombstone) and self._too_deep(number, text):
            return None
        if header and self._is_header(number, text, first):
            return None
        if tombstone:
            obj = _loads(text)
            if isinstance(obj, dict) and "deleted" in obj:
                return self._tombstone(number, obj)
        try:
            record = _RECORD.validate_json(text, context=IMPORT_CONTEXT)
        except ValidationError as exc:
            if not self._too_deep(number, text):
                self._report(number, exc, text)
            return None
        self.lines[record.type] += 1
        if record.type == "entitlement":
            purchased = record.purchased_at
            return Staged(
                "entitlement",
                record.id,
                record.version,
                0,
                number,
                body_of(record),
                record.kind,
                record.holder,
                record.mode,
                record.state,
                None if purchased is None else purchased.timestamp(),
                predecessor_of(record),
                record.product,
                int(isinstance(record, Membership) and record.expires_on is None),
            )
        flag = int(isinstance(record, Product) and record.validity is not None)
        return Staged(
            record.type, record.id, record.version, 0, number, body_of(record),
            None, None, None, None, None, None, None, flag,
        )  # fmt: skip

    def _too_deep(self, number: int, text: str) -> bool:
        field = too_deep(text)
        if field is not None:
            self.problems.add(number, field, f"nested deeper than {MAX_DEPTH} levels of arrays and objects")
        return field is not None

    def _is_header(self, number: int, text: str, first: bool) -> bool:
        obj = _loads(text)
        if not (isinstance(obj, dict) and obj.get("type") == "header"):
            return False
        if not first:
            self.problems.add(number, "type", "a header is only allowed on the first line")
            return True
        try:
            header = Header.model_validate(obj)
        except ValidationError as exc:
            self._report(number, exc, text)
            return True
        if header.format != FORMAT:
            message = f"not a gate ledger file (format {header.format!r}, expected {FORMAT!r})"
            self.problems.add(number, "format", message)
        elif header.version != FORMAT_VERSION:
            message = f"format version {header.version} is not supported (this gate reads {FORMAT_VERSION})"
            self.problems.add(number, "version", message)
        return True

    def _tombstone(self, number: int, obj: dict[str, Any]) -> Staged | None:
        try:
            tomb = _TOMBSTONE.validate_python(obj, context=IMPORT_CONTEXT)
        except ValidationError as exc:
            self._report(number, exc, json.dumps(obj))
            return None
        self.lines[tomb.type] += 1
        return Staged(tomb.type, tomb.id, tomb.version, 1, number, None, None, None, None, None, None, None, None, 0)

    def _report(self, number: int, exc: ValidationError, text: str) -> None:
        reported: set[str] = set()
        for err in exc.errors(include_url=False, include_input=False):
            field, message = _describe(err)
            if err["type"] == "extra_forbidden":
                reported.add(field)
            self.problems.add(number, field, message)
        # Personal data inside a record pydantic could not even start on (unknown type...).
        obj = _loads(text)
        if obj is not None:
            for field, key in _personal_keys(obj, ""):
                if field not in reported:
                    self.problems.add(number, field, _personal(key))


# A JSON string (escapes included), or one bracket.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def too_deep(text: str) -> str | None:
    """Whether a line nests arrays and objects more than MAX_DEPTH deep: None if not, else
    the top-level field it happens under ("" when not under one).

    So a line of a million brackets is a problem on its line, not a RecursionError in
    Python's json. Most lines have too few brackets to be deep at all, and cost two counts."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    key = last = ""
    for token in _TOKEN.findall(text):
        if token[0] == '"':
            if depth == 1:
                last = token
        elif token in "[{":
            if depth == 1:
                key = last
            depth += 1
            if depth > MAX_DEPTH:
                return _unquoted(key)
        else:
            depth -= 1
    return None


def _unquoted(token: str) -> str:
    try:
        return str(json.loads(token)) if token else ""
    except ValueError:
        return token[1:-1]


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _personal(key: str) -> str:
    return f"personal data is not allowed on a gate: {key!r}"


def _personal_keys(obj: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            if str(key).lower() in PERSONAL_DATA_KEYS:
                yield sub, str(key)
            yield from _personal_keys(value, sub)
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _personal_keys(value, f"{path}[{index}]")


def _path(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    # Drop the tags pydantic adds for discriminated unions ("entitlement", "membership", "entry").
    if parts and parts[0] in RECORD_TYPES:
        parts.pop(0)
        if parts and parts[0] in ENTITLEMENT_CLASSES:
            parts.pop(0)
    out = ""
    previous: int | str | None = None
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(previous, int) and part in _TAGS:
            pass
        else:
            out += f".{part}" if out else part
        previous = part
    return out


def _describe(err: Any) -> tuple[str, str]:
    kind: str = err["type"]
    field = _path(err["loc"])
    ctx = err.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        name = str(ctx.get("discriminator", "type")).strip("'")
        field = f"{field}.{name}" if field else name
        if kind == "union_tag_not_found":
            return field, "required field is missing"
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return field, f"unknown {name} {ctx.get('tag')!r} (expected one of: {expected})"
    if kind == "missing":
        return field, "required field is missing"
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        return field, _personal(key) if key.lower() in PERSONAL_DATA_KEYS else "unknown field"
    if kind == "json_invalid":
        detail = str(ctx.get("error", err["msg"])).replace("at line 1 column", "at column")
        return field, f"not valid JSON: {detail}"
    if kind == "string_unicode":
        return field, "not UTF-8 text"
    if kind in ("timezone_aware", "datetime_from_date_parsing") and "timezone" in err["msg"]:
        return field, "a time needs its UTC offset, e.g. 2025-05-01T09:00:00+02:00"
    if kind in ("dict_type", "model_type") and not field:
        return field, "each line must be a JSON object"
    return field, str(err["msg"]).removeprefix("Value error, ")
