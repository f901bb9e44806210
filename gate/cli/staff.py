"""`gate staff pin` and `gate staff list`: make a staff record's PIN hash, list the ledger's staff."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys

from pydantic import ValidationError

from gate.cache import Ledger
from gate.cache.codec import body_of, exchange_line
from gate.cli.context import UsageError, build_demo_ledger, parse_time, resolve_config
from gate.records import Staff
from gate.staff import hash_pin, is_pin


def read_pin() -> str:
    """The PIN, typed twice without echo on a terminal, else one line of standard input.

    Never an argument: a command line is visible to every user of the machine (ps) and
    stays in shell histories.
    """
    if sys.stdin.isatty():
        pin = getpass.getpass("PIN (4 to 12 digits): ")
        if not is_pin(pin):
            raise UsageError("a PIN is 4 to 12 digits")
        if getpass.getpass("PIN again: ") != pin:
            raise UsageError("the two PINs differ; nothing was made")
        return pin
    pin = sys.stdin.readline().rstrip("\r\n")
    if not is_pin(pin):
        raise UsageError("a PIN is 4 to 12 digits (one line on standard input)")
    return pin


def staff_pin(args: argparse.Namespace) -> int:
    """Print a staff record's ledger line with the hash of a PIN read from the terminal (or only the hash)."""
    if not args.hash_only and not (args.id and args.role and args.name):
        raise UsageError("give --id, --role and --name (or --hash-only for the hash alone)")
    valid_until = parse_time(args.valid_until, dt.UTC) if args.valid_until else None
    fields = {"id": args.id, "version": args.version, "role": args.role, "name": args.name, "valid_until": valid_until}
    if not args.hash_only:
        _staff(fields)  # a bad id or name is told before the PIN is typed, not after
    pin_hash = hash_pin(read_pin())
    if args.hash_only:
        print(pin_hash)
        return 0
    print(exchange_line("staff", None, body_of(_staff({**fields, "pin": pin_hash}))))
    return 0


def _staff(fields: dict[str, object]) -> Staff:
    try:
        return Staff.model_validate(fields)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            option = "--" + "-".join(str(part) for part in err["loc"]).replace("_", "-")
            problems.append(f"{option}: {str(err['msg']).removeprefix('Value error, ')}")
        raise UsageError("; ".join(problems)) from None


def staff_list(args: argparse.Namespace) -> int:
    """Id, role, name and validity of every staff member; never a PIN hash."""
    config, is_demo = resolve_config(args.config)
    if is_demo:
        build_demo_ledger(config, now=dt.datetime.now(config.site.tz))
    with Ledger.open(config.ledger.path, create=False) as ledger:
        members = ledger.staff_members()
    now = dt.datetime.now(config.site.tz)
    for member in members:
        end = member.valid_until
        until = None if end is None else end.astimezone(config.site.tz).isoformat(timespec="minutes")
        row = {"id": member.id, "role": member.role, "name": member.name, "valid_until": until,
               "pin": member.pin is not None, "valid": member.valid_at(now)}  # fmt: skip
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            validity = f"until {until}" if until else "no end"
            how = "PIN and badge" if member.pin else "badge only"
            expired = "  EXPIRED" if not row["valid"] else ""
            print(f"{member.id:<12} {member.role:<10} {member.name:<20} {validity:<28} {how}{expired}")
    if not members and not args.json:
        print("no staff in the ledger")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="staff members: PIN hashes, the ledger's staff")
    verbs = staff.add_subparsers(dest="verb", required=True, metavar="VERB")
    pin = verbs.add_parser("pin", help="read a PIN without echo; print the staff record's ledger line")
    pin.add_argument("--id", help="staff id")
    pin.add_argument("--role", choices=("steward", "supervisor"))
    pin.add_argument("--name", help="first name and initial, e.g. 'Marie D.'")
    pin.add_argument("--valid-until", help="neither PIN nor badge works after (ISO 8601 with offset)")
    pin.add_argument("--version", type=int, default=1, help="record version: higher than the one it replaces")
    pin.add_argument("--hash-only", action="store_true", help="print only the PIN hash")
    pin.set_defaults(func=staff_pin)
    lst = verbs.add_parser("list", help="id, role, name and validity of every staff member (never the hash)")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(func=staff_list)
