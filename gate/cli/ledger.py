"""`gate ledger import|export|stats|backup|restore`, `gate activity REF` and `gate balance HOLDER`."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import shutil
import sys
import time
from pathlib import Path

from gate import rules
from gate.cache import Ledger, upgrade
from gate.cli.context import UsageError, build_demo_ledger, open_engine, resolve_config
from gate.credentials import Unreadable, reference_of
from gate.daemon.control import answers


def ledger_import(args: argparse.Namespace) -> int:
    """Apply a ledger file. On a synced device (one with a `[device] id`) the hub's log is the
    source of its records: a local import is refused unless `--local`, and then journaled
    (`ledger.local_import`: the file's name, digest and what it applied), so the hub learns of it."""
    config, is_demo = resolve_config(args.config)
    if is_demo:
        build_demo_ledger(config, now=dt.datetime.now(config.site.tz))
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"no ledger file at {path}")
    device = config.device.id
    if device is not None and not args.local:
        raise UsageError(
            f"device {device} is synced: its records come from the hub (docs/sync.md); "
            "gate ledger import --local imports here anyway, and reports it to the hub"
        )
    with Ledger.open(config.ledger.path, create=True) as ledger:
        report = ledger.import_file(path)
        if device is not None:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            body = {"file": path.name, "sha256": digest, "applied": report.applied, "deleted": report.deleted,
                    "revision": report.revision}  # fmt: skip
            ledger.record_event("ledger.local_import", at=dt.datetime.now(dt.UTC), body=body, reason="local")
    print(report.summary())
    return 0


def ledger_export(args: argparse.Namespace) -> int:
    with open_engine(args.config) as engine:
        if args.output is None:
            count = engine.ledger.export(sys.stdout)
        else:
            with args.output.open("w", encoding="utf-8") as out:
                count = engine.ledger.export(out)
    print(f"exported {count} records", file=sys.stderr)
    return 0


def ledger_stats(args: argparse.Namespace) -> int:
    with open_engine(args.config) as engine:
        stats = engine.ledger.stats()
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
    else:
        for key, value in stats.items():
            print(f"{key}: {json.dumps(value, default=str) if isinstance(value, dict) else value}")
    return 0


def ledger_backup(args: argparse.Namespace) -> int:
    """A consistent copy while the daemon runs: SQLite's online backup, in one read transaction.

    In WAL mode a reader never blocks the lane's writes, so one step it is: a copy in steps
    starts over whenever another connection writes between two steps (measured: thousands
    of restarts for a 20 MB ledger written every 5 ms). The lane's WAL grows meanwhile and
    is checkpointed when the lane is next idle. docs/operations.md, "Backups".
    """
    config, _ = resolve_config(args.config)
    target: Path = args.file
    started = time.monotonic()
    with Ledger.open(config.ledger.path, create=False) as ledger:
        ledger.backup(target)
    took = time.monotonic() - started
    print(f"backup of {config.ledger.path}: {target.stat().st_size:,} bytes to {target} in {took:.1f} s")
    return 0


def ledger_restore(args: argparse.Namespace) -> int:
    """Put a backup back as this device's ledger, with a new incarnation (docs/operations.md).

    Offline: refused while a lane daemon answers on the config's control socket. The backup is
    copied beside the ledger, opened (an older schema is migrated), given a new incarnation id
    so its events never reuse a key the hub has, and only then moved over the ledger, whose
    old WAL goes with it. The backup itself is left as it was.
    """
    config, is_demo = resolve_config(args.config)
    if is_demo:
        raise UsageError("gate ledger restore needs a device's config: --config FILE")
    backup: Path = args.file
    if not backup.is_file():
        raise UsageError(f"no backup at {backup}")
    target = config.ledger.path
    if answers(config.daemon.control_socket):
        raise UsageError(f"a lane daemon answers on {config.daemon.control_socket}: stop it and gate sync first")
    staged = target.with_name(target.name + ".restoring")
    for leftover in (staged, *(staged.with_name(staged.name + s) for s in ("-wal", "-shm"))):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(backup, staged)
    staged.chmod(0o600)  # holder data, as the backup
    # An older schema is migrated without a backup of its own: the file restored is the backup.
    with upgrade.without_backup(), Ledger.open(staged, create=False) as ledger:
        outbox = ledger.outbox()
        old, new = outbox.incarnation(), outbox.new_incarnation()
    for suffix in ("-wal", "-shm"):  # the replaced ledger's: never applied to the restored file
        target.with_name(target.name + suffix).unlink(missing_ok=True)
        staged.with_name(staged.name + suffix).unlink(missing_ok=True)
    staged.replace(target)
    print(f"restored {backup} as {target}: incarnation {old} -> {new} (its events never reuse a key the hub has)")
    return 0


def ledger_rebuild(args: argparse.Namespace) -> int:
    """A lost or damaged ledger made again from the hub, with a new incarnation (gate/sync/rebuild.py).

    Offline, as restore: refused while a lane daemon answers on the config's control socket."""
    config, is_demo = resolve_config(args.config)
    if is_demo or config.device.id is None:
        raise UsageError("gate ledger rebuild needs a synced device's config ([device] id, [sync]): --config FILE")
    if answers(config.daemon.control_socket):
        raise UsageError(f"a lane daemon answers on {config.daemon.control_socket}: stop it and gate sync first")
    from gate.sync.rebuild import rebuild  # noqa: PLC0415 - aiomqtt loads only for sync

    if args.log_level is None:  # the transfer's progress, as gate sync logs it
        logging.getLogger("gate.sync").setLevel(logging.INFO)
    return rebuild(config, source=str(args.config), force=args.force, timeout=args.timeout)


def activity(args: argparse.Namespace) -> int:
    """Every use of what a reference finds, newest first (a member's activity)."""
    with open_engine(args.config) as engine:
        reference = reference_of(args.reference)
        if isinstance(reference, Unreadable):
            raise UsageError(f"not a reference: {reference.detail}")
        ids = engine.ledger.resolve(reference)
        if not ids:
            raise UsageError(f"no entitlement has the reference {reference!r}")
        rows = [use for entitlement in ids for use in engine.ledger.activity(entitlement)]
        rows.sort(key=lambda use: use.at, reverse=True)
        for use in rows:
            when = dt.datetime.fromtimestamp(use.at, engine.tz).isoformat(timespec="seconds")
            record = {
                "at": when,
                "entitlement": use.entitlement_id,
                "direction": use.direction,
                "persons": use.persons,
                "credits": use.credits,
                "lane": use.lane,
                "zone": use.zone,
                "performance": use.performance,
            }
            print(json.dumps(record) if args.json else _activity_line(record))
        if not rows and not args.json:
            print(f"no use recorded for {', '.join(ids)}")
    return 0


def _activity_line(record: dict[str, object]) -> str:
    extra = f" credits={record['credits']}" if record["credits"] else ""
    extra += f" performance={record['performance']}" if record["performance"] else ""
    return (
        f"{record['at']}  {record['direction']:<5} x{record['persons']}  lane={record['lane']} "
        f"zone={record['zone']}  {record['entitlement']}{extra}"
    )


def balance(args: argparse.Namespace) -> int:
    """Credits per credit membership of a holder, in the order they are consumed."""
    with open_engine(args.config) as engine:
        now = dt.datetime.now(engine.tz)
        memberships = engine.ledger.credit_memberships_of(args.holder)
        if not memberships:
            raise UsageError(f"holder {args.holder!r} has no credit membership")
        memberships.sort(key=lambda m: (m.purchased_at, m.id))
        uses = engine.ledger.uses([m.id for m in memberships])
        total = 0
        lines = []
        for membership in memberships:
            mine = [u for u in uses if u.entitlement_id == membership.id]
            remaining = rules.credit_remaining(membership, mine)
            active = rules.credit_active(membership, now) and membership.state == "active"
            total += remaining if active else 0
            lines.append(
                {
                    "entitlement": membership.id,
                    "credits": membership.credits,
                    "used": sum(u.credits for u in mine if not u.held),
                    "held": sum(u.credits for u in mine if u.held),
                    "remaining": remaining,
                    "active": active,
                    "ends_at": rules.credit_ends_at(membership).isoformat(timespec="minutes"),
                }
            )
    if args.json:
        print(json.dumps({"holder": args.holder, "balance": total, "memberships": lines}))
        return 0
    print(f"holder {args.holder}: {total} credit(s) available")
    for line in lines:
        state = "active" if line["active"] else "not usable now"
        print(
            f"  {line['entitlement']}: {line['remaining']} of {line['credits']} left "
            f"(used {line['used']}, held {line['held']}), {state}, ends {line['ends_at']}"
        )
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ledger = sub.add_parser("ledger", help="import, export and inspect the local ledger")
    verbs = ledger.add_subparsers(dest="verb", required=True, metavar="VERB")
    imp = verbs.add_parser("import", help="apply a JSON Lines ledger file (atomic: all lines or none)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--local", action="store_true", help="on a synced device: import here all the same (reported)")
    imp.set_defaults(func=ledger_import)
    exp = verbs.add_parser("export", help="write the whole ledger as JSON Lines")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    exp.set_defaults(func=ledger_export)
    stats = verbs.add_parser("stats", help="counts, sizes and versions")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=ledger_stats)
    backup = verbs.add_parser("backup", help="a consistent copy while the daemon runs (holds holder data)")
    backup.add_argument("file", type=Path, help="the copy to write (never overwritten)")
    backup.set_defaults(func=ledger_backup)
    restore = verbs.add_parser("restore", help="put a backup back as the ledger, with a new incarnation (offline)")
    restore.add_argument("file", type=Path, help="the backup (left as it is)")
    restore.set_defaults(func=ledger_restore)
    rebuild = verbs.add_parser("rebuild", help="a lost or damaged ledger made again from the hub (new incarnation)")
    rebuild.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="the device's config file")
    rebuild.add_argument("--force", action="store_true", help="rebuild a ledger that checks out all the same")
    rebuild.add_argument("--timeout", type=float, default=1800.0, help="give up after so many seconds (default "
                         "1800); run it again to continue")  # fmt: skip
    rebuild.set_defaults(func=ledger_rebuild)

    act = sub.add_parser("activity", help="every use of what a reference finds, newest first")
    act.add_argument("reference")
    act.add_argument("--json", action="store_true")
    act.set_defaults(func=activity)

    bal = sub.add_parser("balance", help="a holder's credits, membership by membership")
    bal.add_argument("holder", help="holder id")
    bal.add_argument("--json", action="store_true")
    bal.set_defaults(func=balance)
