"""`gate sync --config FILE` and `gate hub --config FILE`: the two MQTT processes (docs/sync.md).

Both run in the foreground (systemd runs them so) and log to stdout. Exit status: 0 after
SIGTERM/SIGINT; 2 for a config that cannot run (every problem by key path, or a password file
another user may read); 1 after a failure (logged).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from gate.cli.context import UsageError
from gate.cli.run import LOG_FORMAT, config_path
from gate.config import load_config


def _setup(args: argparse.Namespace, verb: str) -> Path:
    path = config_path(args)
    if path is None:
        raise UsageError(f"gate {verb} needs a config: --config FILE (or $GATE_CONFIG); see docs/sync.md")
    logging.basicConfig(level=args.log_level or "INFO", stream=sys.stdout, format=LOG_FORMAT, force=True)
    return path


def _served(main: Coroutine[Any, Any, None], verb: str, refused: type[Exception]) -> int:
    """Run `main`; a link that cannot even be tried (`refused`, from its task group too) is exit 2."""
    try:
        asyncio.run(main)
    except BaseExceptionGroup as group:
        matched, rest = group.split(refused)
        if matched is None or rest is not None:
            raise
        for exc in matched.exceptions:
            print(f"gate {verb}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not isinstance(exc, refused):
            raise
        print(f"gate {verb}: {exc}", file=sys.stderr)
        return 2
    return 0


def sync(args: argparse.Namespace) -> int:
    path = _setup(args, "sync")
    config = load_config(path)
    from gate.sync.link import LinkError  # noqa: PLC0415 - aiomqtt loads only for sync
    from gate.sync.service import run_sync  # noqa: PLC0415

    return _served(run_sync(config, source=str(path)), "sync", LinkError)


def hub(args: argparse.Namespace) -> int:
    if getattr(args, "file", None) is not None:
        return hub_publish(args)
    path = _setup(args, "hub")
    config = load_config(path)
    from gate.hub.service import run_hub  # noqa: PLC0415 - aiomqtt loads only for the hub
    from gate.sync.link import LinkError  # noqa: PLC0415

    return _served(run_hub(config), "hub", LinkError)


def hub_publish(args: argparse.Namespace) -> int:
    """`gate hub publish FILE`: the file checked, then appended to the hub's log as signed batches."""
    path = config_path(args)
    if path is None:
        raise UsageError("gate hub publish needs the hub's config: --config FILE (or $GATE_CONFIG)")
    config = load_config(path)
    from gate.hub.publish import PublishError, publish  # noqa: PLC0415 - the hub's code, only here

    try:
        batches = publish(config, args.file)
    except PublishError as exc:
        print(f"gate hub publish: {exc}", file=sys.stderr)
        return 2
    for batch in batches:
        print(f"batch {batch.seq}: {len(batch.lines.splitlines()) - 1} line(s), sha256 {batch.sha256[:16]}…")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for verb, func, what in (
        ("sync", sync, "the sync process of this device's ledger: events up to the hub (docs/sync.md)"),
        ("hub", hub, "the back-office bridge: every device's events in, confirmed (docs/sync.md)"),
    ):
        p = sub.add_parser(verb, help=what)
        p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file (default: $GATE_CONFIG)")
        p.set_defaults(func=func)
        if verb == "hub":
            verbs = p.add_subparsers(dest="hub_verb", metavar="VERB")
            pub = verbs.add_parser("publish", help="a ledger file into the hub's log, as signed batches")
            pub.add_argument("file", type=Path)
            pub.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="the hub's config file")
