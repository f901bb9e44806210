"""`gate replay SCANS.jsonl`: a file of scans decided in time order, one JSON decision per line.

Each line is validated on its own (docs/check.md, "Replay"): JSON of one scan, UTF-8, at
most MAX_LINE characters, a known lane, a time with its zone within gate.bounds, and not
earlier than the latest scan before it. A line that fails is answered `{"line": N, "error":
...}` and not decided:

- on the scratch copy (the default) the other lines are decided, and the exit status is 1;
- with `--in-place` (the real ledger) the whole file is checked first, and one bad line
  means nothing is decided or recorded (exit status 2): a replay into the ledger is applied
  whole or not at all, as an import is.

A line earlier than the scan before it is refused, not sorted: deciding it would count uses
"in its future", and sorting would hide that the file is not the day it claims to be.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gate.cache import Ledger
from gate.cli.context import UsageError, build_demo_ledger, open_engine, parse_time, resolve_config
from gate.cli.decide import read_of
from gate.cli.output import decision_json
from gate.decision import Ask
from gate.engine import Engine
from gate.errors import GateError
from gate.records import Direction

MAX_LINE = 200_000  # characters: a code of at most 100 000, and room for the rest


class Scan(BaseModel):
    """One line of a replay file: JSON types exactly (no "2" for 2), bounded lengths."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    at: str = Field(max_length=100, description="ISO 8601 instant with an offset, Z, or a [Zone].")
    lane: str = Field(max_length=128, description="Lane id from the config.")
    code: str = Field(max_length=100_000, description="What the reader saw.")
    direction: Direction = Field(default="entry", description="entry or exit.")
    party: Annotated[int, Field(ge=1, le=999)] | None = Field(default=None, description="Persons asking.")
    performance: str | None = Field(default=None, max_length=256, description="Chosen performance (kiosk).")
    items: tuple[Annotated[str, Field(max_length=256)], ...] = Field(
        default=(), max_length=64, description="Products asked for (kiosk)."
    )
    passed: Annotated[int, Field(ge=0, le=999)] | None = Field(
        default=None, description="How many of those admitted went through; default all."
    )
    record: bool = Field(default=True, description="false: decide only, record nothing.")


class ReplayLineError(GateError, ValueError):
    """A replay line that cannot be decided: its number and what is wrong, by field."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ScanLine:
    """A line that passed: its number, the scan and its instant."""

    line: int
    scan: Scan
    at: dt.datetime


def parse_scan(text: str, line: int, *, tz: dt.tzinfo, lanes: Collection[str]) -> ScanLine:
    """One line as a scan, or ReplayLineError naming the field that is wrong."""
    if len(text) > MAX_LINE:
        raise ReplayLineError(line, f"longer than {MAX_LINE} characters")
    try:
        scan = Scan.model_validate_json(text)
    except ValidationError as exc:
        raise ReplayLineError(line, _problems(exc)) from None
    if scan.lane not in lanes:
        raise ReplayLineError(line, f"lane: unknown lane {scan.lane!r} (lanes: {', '.join(lanes)})")
    try:
        at = parse_time(scan.at, tz, option="at:")
    except UsageError as exc:
        raise ReplayLineError(line, str(exc)) from None
    return ScanLine(line, scan, at)


def _problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) if str(part).isprintable() else repr(str(part)) for part in error["loc"])
        if error["type"] == "json_invalid":
            problems.append(f"not a JSON scan: {error['msg'].removeprefix('Invalid JSON: ')}")
        elif error["type"] == "model_type":
            problems.append("not a JSON object")
        else:
            problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(problems)


def read_scans(
    lines: Iterable[bytes | None], *, tz: dt.tzinfo, lanes: Collection[str]
) -> Iterator[ScanLine | ReplayLineError]:
    """Every non-blank line in order: a scan, or why it cannot be decided.

    `lines` are raw lines, None for one cut at MAX_LINE. A scan earlier than the latest good
    scan before it is refused: a replay decides the day in the order it happened.
    """
    latest: ScanLine | None = None
    for number, raw in enumerate(lines, start=1):
        if raw is None:
            yield ReplayLineError(number, f"longer than {MAX_LINE} characters")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield ReplayLineError(number, f"not UTF-8 (byte {exc.start + 1})")
            continue
        if not text.strip():
            continue
        try:
            scanned = parse_scan(text, number, tz=tz, lanes=lanes)
        except ReplayLineError as exc:
            yield exc
            continue
        if latest is not None and scanned.at.timestamp() < latest.at.timestamp():
            yield ReplayLineError(
                number,
                f"at: {scanned.scan.at} is earlier than line {latest.line}'s {latest.scan.at}: a replay decides "
                "scans in time order (sort the file by at)",
            )
            continue
        latest = scanned
        yield scanned


def raw_lines(file: BinaryIO) -> Iterator[bytes | None]:
    """A file's lines, each at most MAX_LINE bytes read (None for a longer one, skipped whole)."""
    while line := file.readline(MAX_LINE + 1):
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            while (rest := file.readline(MAX_LINE + 1)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line


def replay(args: argparse.Namespace) -> int:
    """Decide every scan of a file in order, recording as it goes; one JSON decision per line out.

    By default it works on a scratch copy of the ledger: trying tomorrow's rules must not use
    up today's real entitlements. `--in-place` records into the ledger itself.
    """
    source: Path = args.scans
    if not source.is_file():
        raise UsageError(f"no scans file at {source}")
    with _replay_ledger(args) as ledger_path, open_engine(args.config, ledger_path=ledger_path) as engine:
        lanes = [lane.id for lane in engine.lanes]
        if args.in_place:
            with source.open("rb") as file:
                bad = [r for r in read_scans(raw_lines(file), tz=engine.tz, lanes=lanes) if isinstance(r, Exception)]
            if bad:
                for error in bad:
                    print(json.dumps({"line": error.line, "error": error.problem}, ensure_ascii=False))
                raise UsageError(f"{source}: {len(bad)} bad line(s): nothing recorded (--in-place replays whole files)")
        failures = 0
        with source.open("rb") as file:
            for result in read_scans(raw_lines(file), tz=engine.tz, lanes=lanes):
                if isinstance(result, ReplayLineError):
                    failures += 1
                    record: dict[str, object] = {"line": result.line, "error": result.problem}
                else:
                    record = {"line": result.line, **_decided(engine, result)}
                print(json.dumps(record, ensure_ascii=False), flush=True)
        return 1 if failures else 0


def _decided(engine: Engine, scanned: ScanLine) -> dict[str, object]:
    scan, at = scanned.scan, scanned.at
    ask = Ask(direction=scan.direction, party=scan.party, performance=scan.performance, items=scan.items)
    if not scan.record:
        outcome = engine.decide(read_of(scan.code), lane=scan.lane, at=at, ask=ask)
    else:
        outcome = engine.admit(read_of(scan.code), lane=scan.lane, at=at, ask=ask)
        if outcome.redemption is not None:
            passed = None if scan.passed is None else min(scan.passed, outcome.decision.admitted)
            engine.commit(outcome.redemption, at=at, passed=passed)
    config = engine.config
    return decision_json(
        outcome, lane=scan.lane, at=at, tz=engine.tz, language=config.engine.language, currency=config.site.currency
    )


@contextmanager
def _replay_ledger(args: argparse.Namespace) -> Iterator[Path | None]:
    """None (the configured ledger) with --in-place, else a scratch copy of it."""
    if args.in_place:
        yield None
        return
    config, is_demo = resolve_config(args.config)
    if is_demo:
        build_demo_ledger(config, now=dt.datetime.now(config.site.tz))
    with tempfile.TemporaryDirectory(prefix="gate-replay-") as scratch:
        copy = Path(scratch) / "ledger.sqlite"
        # Opening checks it is a gate ledger; the backup API then copies a consistent snapshot
        # even while the daemon writes.
        with Ledger.open(config.ledger.path, create=False) as ledger:
            ledger.backup(copy)
        yield copy


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = sub.add_parser("replay", help="decide a file of scans in time order, one JSON decision per line")
    r.add_argument("scans", type=Path, help="JSON Lines: at, lane, code, [direction, party, performance, items]")
    r.add_argument(
        "--in-place", action="store_true", help="record into the ledger itself (only a file without a bad line)"
    )
    r.set_defaults(func=replay)
