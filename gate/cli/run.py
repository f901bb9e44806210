"""`gate run --config FILE [--lane L]`: the lane daemon, in the foreground (systemd runs it so).

Exit status: 0 after SIGTERM/SIGINT and a clean drain; 1 after a failure (logged); 2 for a
config that cannot run (every problem listed by key path) or a lane the config lacks; 3 for
a ledger that cannot serve (not a gate ledger, a newer schema, corrupt pages). The unit
restarts after neither 2 nor 3.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from gate.cli.context import UsageError
from gate.config import load_config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def config_path(args: argparse.Namespace) -> Path | None:
    """--config after the command, before it, or $GATE_CONFIG."""
    path: Path | None = getattr(args, "config", None)
    if path is None and (env := os.environ.get("GATE_CONFIG")):
        path = Path(env)
    return path


def run(args: argparse.Namespace) -> int:
    path = config_path(args)
    if path is None:
        raise UsageError("gate run needs a config: --config FILE (or $GATE_CONFIG); see docs/install.md")
    # The daemon logs to stdout (journald adds its own metadata), with times for a foreground run.
    logging.basicConfig(level=args.log_level or "INFO", stream=sys.stdout, format=LOG_FORMAT, force=True)
    config = load_config(path, daemon=True, lane=args.lane)  # ConfigError: every problem by key path, exit 2
    # Imported here: `gate check` and friends need not load the lane and gpiozero.
    from gate.daemon.run import choose_lane, run_daemon  # noqa: PLC0415

    lane = choose_lane(config, args.lane, source=str(path))
    return run_daemon(config, lane, source=str(path))


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the daemon of one lane (what the systemd unit starts)")
    # SUPPRESS: `gate --config F run` and `gate run --config F` both work.
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file (default: $GATE_CONFIG)")
    p.add_argument("--lane", help="the lane to run (default: [daemon] lane, or the config's only lane)")
    p.set_defaults(func=run)
