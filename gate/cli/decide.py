"""`gate check`: the decision engine without hardware (`gate replay`: gate/cli/replay.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from gate.cli.context import UsageError, open_engine, parse_time
from gate.cli.output import decision_json, decision_line
from gate.decision import Ask
from gate.engine import Engine, Outcome


def _ask(args: argparse.Namespace) -> Ask:
    if args.party is not None and args.party < 1:
        raise UsageError("--party must be at least 1")
    return Ask(
        direction=args.direction,
        party=args.party,
        performance=args.performance,
        items=tuple(args.item or ()),
    )


def read_of(code: str) -> str | bytes:
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
            outcome = engine.redeem(read_of(args.code), lane=lane, at=at, ask=ask)
        else:
            outcome = engine.decide(read_of(args.code), lane=lane, at=at, ask=ask)
        _print(outcome, engine, lane=lane, at=at, as_json=args.json)
        return 0 if outcome.decision.admits else 1


def _print(outcome: Outcome, engine: Engine, *, lane: str, at: dt.datetime, as_json: bool) -> None:
    language, currency = engine.config.engine.language, engine.config.site.currency
    if as_json:
        record = decision_json(outcome, lane=lane, at=at, tz=engine.tz, language=language, currency=currency)
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(decision_line(outcome, at=at, tz=engine.tz, language=language, currency=currency))


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
