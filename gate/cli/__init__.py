"""The `gate` command: the engine, the ledger and the demo from a shell.

Exit status: 0 admitted / done, 1 refused (check) or a line failed (replay), 2 bad input
(config, ledger file, arguments), each reported on stderr in words, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from gate.cache import LedgerError, LedgerImportError
from gate.cli import config, decide, demo, doctor, keys, lane, ledger, provision, replay, run, staff, sync
from gate.cli.context import UsageError
from gate.config import ConfigError
from gate.engine import UnknownLane
from gate.errors import GateError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gate", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--config", type=Path, help="config file (default: $GATE_CONFIG, else the embedded demo config)"
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default: WARNING; INFO for gate run)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (demo, decide, replay, ledger, keys, staff, config, run, lane, doctor, sync, provision):
        module.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = getattr(logging, str(args.log_level or "WARNING").upper(), None)
    if not isinstance(level, int):
        parser.error(f"unknown log level {args.log_level!r}")
    args.log_level = logging.getLevelName(level) if args.log_level else None
    logging.basicConfig(level=level, stream=sys.stdout, format="%(levelname)s %(name)s %(message)s")
    if args.command is None:
        args = parser.parse_args([*(argv or sys.argv[1:]), "demo"])
    try:
        code: int = args.func(args)
    except (ConfigError, LedgerImportError) as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return 2
    except (LedgerError, UsageError) as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return 2
    except UnknownLane as exc:
        print(f"gate: {exc.args[0]}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # an argument a command model refuses (gate lane ...)
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'argument'}: {e['msg']}" for e in exc.errors())
        print(f"gate: {problems}", file=sys.stderr)
        return 2
    except GateError as exc:
        print(f"gate: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    except OSError as exc:  # a file named on the command line: missing, a folder, a name too long
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"gate: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return code
