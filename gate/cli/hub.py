"""`gate hub report WHAT`: the site's figures from the hub's store (gate/hub/reports.py, docs/hub.md).

    gate hub report members|attendance|hours|devices|conflicts [--day D | --from D [--to D]] [--json] --config HUB.toml
    gate hub report [WHAT] --html FILE [--day D | --from D [--to D]] --config HUB.toml

Days are the site's (`[site] timezone`), both ends included; the default is today. Text for
people, `--json` for scripts, `--html FILE` for one page with charts (gate/hub/report_html.py:
hours, attendance, conflicts and members, or only WHAT); ids only, never names. Exit 2 for a day
that is not one, a range backwards, or a report that does not exist (the message says which do).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli.context import UsageError
from gate.cli.run import config_path
from gate.config import GateConfig, load_config

if TYPE_CHECKING:
    from gate.hub.reports import Period


def _day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text}: not a day (YYYY-MM-DD)") from None


def report(args: argparse.Namespace) -> int:
    path = config_path(args)
    if path is None:
        raise UsageError("gate hub report needs the hub's config: --config FILE (or $GATE_CONFIG)")
    config = load_config(path)
    from gate.hub.reports import REPORTS, Period, as_json, as_text  # noqa: PLC0415 - the hub's code, only here
    from gate.hub.reports import report as make  # noqa: PLC0415
    from gate.hub.store import open_store  # noqa: PLC0415

    if args.html is not None and args.json:
        raise UsageError("gate hub report: --json or --html, not both")
    if args.what is None and args.html is None:
        raise UsageError(f"gate hub report: which report? ({', '.join(REPORTS)}), or --html FILE for charts")
    if args.what is not None and args.what not in REPORTS:
        raise UsageError(f"gate hub report {args.what}: no such report (reports: {', '.join(REPORTS)})")
    tz = config.site.tz
    if args.day is not None and (args.first is not None or args.last is not None):
        raise UsageError("gate hub report: --day, or --from and --to, not both")
    today = dt.datetime.now(tz).date()
    if args.day is not None:
        first = last = _day(args.day, "--day")
    else:
        first = _day(args.first, "--from") if args.first is not None else today
        last = _day(args.last, "--to") if args.last is not None else max(first, today)
    if last < first:
        raise UsageError(f"gate hub report: --to {last} is before --from {first}")
    if config.hub.dsn_file is None and not config.hub.store.exists():
        raise UsageError(f"hub.store {config.hub.store}: no store yet (has gate hub run, or gate hub publish?)")
    period = Period(first, last, tz)
    if args.html is not None:
        return _html(args, config, period)
    store = open_store(config)
    try:
        table = make(store, config.hub.store, args.what, period)
    finally:
        store.close()
    if args.json:
        print(json.dumps(as_json(args.what, period, table), indent=2, ensure_ascii=False))
    else:
        print(as_text(period, table))
    return 0


def _html(args: argparse.Namespace, config: GateConfig, period: Period) -> int:
    """The page of charts (WHAT's alone, if given), written whole or not at all."""
    from gate.hub import report_html  # noqa: PLC0415
    from gate.hub.store import open_store  # noqa: PLC0415

    names = report_html.CHARTED if args.what is None else (args.what,)
    store = open_store(config)
    try:
        reports = report_html.tables(store, config.hub.store, names, period)
    finally:
        store.close()
    page = report_html.render(config.sync.site, period, reports, dt.datetime.now(period.tz))
    try:
        report_html.write(args.html, page)
    except OSError as exc:
        raise UsageError(f"--html {args.html}: {exc.strerror or exc}") from None
    print(f"{args.html}: {', '.join(names)}")
    return 0


def add_report_verb(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = verbs.add_parser("report", help="the site's figures per day or range (members, attendance, hours, devices)")
    p.add_argument("what", nargs="?", help="which report: members, attendance, hours, devices, conflicts")
    p.add_argument("--day", help="one day, YYYY-MM-DD (default: today)")
    p.add_argument("--from", dest="first", help="the first day of a range")
    p.add_argument("--to", dest="last", help="its last day, included (default: today)")
    p.add_argument("--json", action="store_true", help="JSON for scripts, instead of text for people")
    p.add_argument("--html", type=Path, metavar="FILE", help="one page with charts, readable offline (every charted "
                   "report, or only WHAT)")  # fmt: skip
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="the hub's config file")
    p.set_defaults(func=report)
