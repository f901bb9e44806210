"""`gate check` and `gate replay`: the decision engine without hardware."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gate.cache import Ledger
from gate.cli.context import UsageError, build_demo_ledger, open_engine, parse_time, resolve_config
from gate.cli.output import decision_json, decision_line
from gate.decision import Ask
from gate.engine import Engine, Outcome, UnknownLane
from gate.records import Direction


def _ask(args: argparse.Namespace) -> Ask:
    if args.party is not None and args.party < 1:
        raise UsageError("--party must be at least 1")
    return Ask(
        direction=args.direction,
        party=args.party,
        performance=args.performance,
        items=tuple(args.item or ()),
    )


def _read(code: str) -> str | bytes:
    # A shell hands us text; surrogate escapes mean bytes that were not UTF-8, kept as bytes.
    try:
        code.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return code.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return code.encode("utf-8", "surrogatepass")
    return code


def check(args: argparse.Namespace) -> int:
    with open_engine(args.config) as engine:
        lane = args.lane or engine.lanes[0].id
        at = parse_time(args.at, engine.tz, option="--at")
        ask = _ask(args)
        engine.lane(lane)  # an unknown lane is a usage error, before anything is decided
        if args.commit:
            outcome = engine.redeem(_read(args.code), lane=lane, at=at, ask=ask)
        else:
            outcome = engine.decide(_read(args.code), lane=lane, at=at, ask=ask)
        _print(outcome, engine, lane=lane, at=at, as_json=args.json)
        return 0 if outcome.decision.admits else 1


def _print(outcome: Outcome, engine: Engine, *, lane: str, at: dt.datetime, as_json: bool) -> None:
    language, currency = engine.config.engine.language, engine.config.site.currency
    if as_json:
        record = decision_json(outcome, lane=lane, at=at, tz=engine.tz, language=language, currency=currency)
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(decision_line(outcome, at=at, tz=engine.tz, language=language, currency=currency))


class Scan(BaseModel):
    """One line of a replay file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: str = Field(description="ISO 8601 instant with an offset, Z, or a [Zone].")
    lane: str = Field(description="Lane id from the config.")
    code: str = Field(max_length=100_000, description="What the reader saw.")
    direction: Direction = Field(default="entry", description="entry or exit.")
    party: Annotated[int, Field(ge=1, le=999)] | None = Field(default=None, description="Persons asking.")
    performance: str | None = Field(default=None, description="Chosen performance (kiosk).")
    items: tuple[str, ...] = Field(default=(), description="Products asked for (kiosk).")
    passed: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="How many of those admitted went through; default all."
    )
    record: Literal[True, False] = Field(default=True, description="false: decide only, record nothing.")


def replay(args: argparse.Namespace) -> int:
    """Decide every scan of a file in order, recording as it goes; one JSON decision per line out.

    By default it works on a scratch copy of the ledger: trying tomorrow's rules must not use
    up today's real entitlements. `--in-place` records into the ledger itself.
    """
    source: Path = args.scans
    if not source.is_file():
        raise UsageError(f"no scans file at {source}")
    with _replay_ledger(args) as ledger_path, open_engine(args.config, ledger_path=ledger_path) as engine:
        failures = 0
        with source.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                record = _replay_line(engine, line, number)
                failures += "error" in record
                print(json.dumps(record, ensure_ascii=False), flush=True)
        return 1 if failures else 0


def _replay_line(engine: Engine, line: str, number: int) -> dict[str, object]:
    try:
        scan = Scan.model_validate_json(line)
        at = parse_time(scan.at, engine.tz)
        engine.lane(scan.lane)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
        return {"line": number, "error": problems}
    except UsageError as exc:
        return {"line": number, "error": str(exc)}
    except UnknownLane as exc:
        return {"line": number, "error": exc.args[0]}
    ask = Ask(direction=scan.direction, party=scan.party, performance=scan.performance, items=scan.items)
    if not scan.record:
        outcome = engine.decide(_read(scan.code), lane=scan.lane, at=at, ask=ask)
    else:
        outcome = engine.admit(_read(scan.code), lane=scan.lane, at=at, ask=ask)
        if outcome.redemption is not None:
            passed = None if scan.passed is None else min(scan.passed, outcome.decision.admitted)
            engine.commit(outcome.redemption, at=at, passed=passed)
    config = engine.config
    record = decision_json(
        outcome, lane=scan.lane, at=at, tz=engine.tz, language=config.engine.language, currency=config.site.currency
    )
    return {"line": number, **record}


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
    p = sub.add_parser("check", help="decide one code (nothing recorded unless --commit)")
    p.add_argument("code", help="the code as a reader would see it")
    p.add_argument("--at", help="decision time, ISO 8601 with offset or [Zone] (default: now)")
    p.add_argument("--lane", help="lane id (default: the config's first lane)")
    p.add_argument("--party", type=int, help="persons asking (default: what the entitlement allows)")
    p.add_argument("--direction", choices=("entry", "exit"), default="entry")
    p.add_argument("--performance", help="chosen performance id (kiosk)")
    p.add_argument("--item", action="append", help="product asked for (kiosk); repeatable")
    p.add_argument("--commit", action="store_true", help="record it, as if everyone admitted went through")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(func=check)

    r = sub.add_parser("replay", help="decide a file of scans in order, one JSON decision per line")
    r.add_argument("scans", type=Path, help="JSON Lines: at, lane, code, [direction, party, performance, items]")
    r.add_argument("--in-place", action="store_true", help="record into the ledger itself, not a scratch copy")
    r.set_defaults(func=replay)

