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
from gate.cli.hub import add_report_verb
from gate.cli.run import LOG_FORMAT, config_path
from gate.config import GateConfig, load_config


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
    if config.hub.inbox is not None:  # the watched folder publishes: it needs the key, and the folder
        from gate.hub.inbox import prepare  # noqa: PLC0415
        from gate.hub.publish import PublishError  # noqa: PLC0415

        try:
            prepare(config)
        except PublishError as exc:
            print(f"gate hub: hub.inbox needs the ledger key: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"gate hub: hub.inbox {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return 2
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
    from gate.hub.versions import TooNew  # noqa: PLC0415

    try:
        published = publish(config, args.file)
    except (PublishError, TooNew) as exc:
        print(f"gate hub publish: {exc}", file=sys.stderr)
        return 2
    for line in published.summary():
        print(line)
    return 0


def _hub_config(args: argparse.Namespace, verb: str) -> GateConfig:
    path = config_path(args)
    if path is None:
        raise UsageError(f"gate hub {verb} needs the hub's config: --config FILE (or $GATE_CONFIG)")
    return load_config(path)


def hub_command(args: argparse.Namespace) -> int:
    """`gate hub command DEVICE open LANE | mode LANE MODE`: signed, sent by the running hub, answered."""
    config = _hub_config(args, "command")
    from gate.hub.command import CommandError, make, wait  # noqa: PLC0415 - the hub's code, only here

    if (args.action == "mode") != (args.mode is not None):
        raise UsageError("gate hub command DEVICE mode LANE MODE (a mode with `mode` only)")
    try:
        command = make(config, device=args.device, lane=args.lane, op=args.action, mode=args.mode,
                       direction=args.direction, reason=args.reason, lifetime_s=args.expires_in)  # fmt: skip
    except CommandError as exc:
        print(f"gate hub command: {exc}", file=sys.stderr)
        return 2
    print(f"command {command.nonce}: {command.op} at {command.device} lane {command.lane}, expires in "
          f"{args.expires_in} s")  # fmt: skip
    if args.wait <= 0:
        return 0
    answer = wait(config, command.nonce, timeout=args.wait)
    if isinstance(answer, str):
        print(f"gate hub command: no answer from {command.device} within {args.wait:g} s: {answer}", file=sys.stderr)
        return 1
    print(f"{answer.outcome}: {answer.reason}{' (' + answer.detail + ')' if answer.detail else ''}")
    return 0 if answer.outcome == "done" else 1


def hub_keys(args: argparse.Namespace) -> int:
    """`gate hub keys add ID PUBLIC [--retire OLD] | retire ID`: a signed batch of key changes."""
    config = _hub_config(args, "keys")
    from gate.hub.keys import change_keys  # noqa: PLC0415 - the hub's code, only here
    from gate.hub.publish import PublishError  # noqa: PLC0415
    from gate.hub.versions import TooNew  # noqa: PLC0415

    retire = list(args.retire or []) if args.keys_verb == "add" else [args.id]
    add = {args.id: args.public_key} if args.keys_verb == "add" else {}
    try:
        batch = change_keys(config, add=add, retire=retire)
    except (PublishError, TooNew) as exc:
        print(f"gate hub keys: {exc}", file=sys.stderr)
        return 2
    said = [f"{key} added" for key in add] + [f"{key} retired" for key in retire]
    print(f"batch {batch.seq}: ledger key {', '.join(said)}; signed by {batch.key}")
    if config.hub.ledger_key_id in retire:
        print(f"next: sign with the new key ([hub] ledger_key_id, ledger_key_file); {batch.key} signs nothing more")
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
            _hub_verbs(verbs)
            add_report_verb(verbs)


def _hub_verbs(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`gate hub command` and `gate hub keys` (docs/sync.md)."""
    cmd = verbs.add_parser("command", help="a signed remote command to a device's lane: open once, or its mode")
    cmd.add_argument("device", help="the device's id")
    cmd.add_argument("action", choices=("open", "mode"))
    cmd.add_argument("lane", help="the lane (the device's daemon's)")
    cmd.add_argument("mode", nargs="?", choices=("normal", "free", "locked", "out_of_order", "emergency"))
    cmd.add_argument("--reason", required=True, help="why, as staff would say it; journaled on the device")
    cmd.add_argument("--direction", choices=("entry", "exit"), default="entry", help="open: entry or exit")
    cmd.add_argument("--expires-in", type=int, default=60, help="seconds the command is valid (at most 600)")
    cmd.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the device's answer (0: none)")
    cmd.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="the hub's config file")
    cmd.set_defaults(func=hub_command)
    keys = verbs.add_parser("keys", help="add or retire a ledger key, by a signed batch every device takes")
    keys_verbs = keys.add_subparsers(dest="keys_verb", required=True, metavar="VERB")
    add = keys_verbs.add_parser("add", help="trust a new ledger key (and retire old ones with it)")
    add.add_argument("id", help="the new key's id")
    add.add_argument("public_key", help="its public key, base64, as `gate keys generate --purpose ledger` prints it")
    add.add_argument("--retire", action="append", metavar="ID", help="a key id retired in the same batch")
    retire = keys_verbs.add_parser("retire", help="stop trusting a ledger key, for good")
    retire.add_argument("id", help="the key id")
    for parser in (add, retire):
        parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="the hub's config file")
        parser.set_defaults(func=hub_keys)
