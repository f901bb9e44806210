"""`gate provision`: a new device made a member of a venue (docs/scale.md, "Provisioning").

At the venue (the box with the broker's password file, and the CA's key when devices have
certificates), with the venue file (gate/provision/venue.py):

    gate provision init --venue V.toml [--broker-name venue-box.local ...]
    gate provision device ID --venue V.toml [--set lane=north-1 ...] [--replace] [--out FILE|-] [--json]
    gate provision revoke ID --venue V.toml [--json]
    gate provision crl --venue V.toml
    gate provision list --venue V.toml [--json]

On the device, as root:

    gate provision apply BUNDLE|- [--force]

Exit status 0 done, 2 refused (every problem said on stderr, nothing changed). With `--out -` the
bundle goes to standard output and every word to standard error, for `... | ssh device sudo gate
provision apply -`.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from gate.cli.context import UsageError


def _refused(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A ProvisionError is bad input, said in one line: exit 2, as for every command."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        from gate.provision.venue import ProvisionError  # noqa: PLC0415 - the CA's code only for this verb

        try:
            return func(args)
        except ProvisionError as exc:
            raise UsageError(str(exc)) from None

    return run


@_refused
def device(args: argparse.Namespace) -> int:
    from gate.provision.flow import provision  # noqa: PLC0415
    from gate.provision.template import parse_sets  # noqa: PLC0415
    from gate.provision.venue import Venue, load_venue  # noqa: PLC0415

    venue: Venue = load_venue(args.venue)
    to_stdout = args.out == "-"
    out = None if to_stdout else Path(args.out) if args.out else venue.bundles / f"{args.id}.tar"
    done = provision(venue, args.id, parse_sets(args.set or []), replace=args.replace, out=out)
    said = sys.stderr if to_stdout else sys.stdout
    if args.json:
        print(json.dumps(done.as_json()), file=said)
        return 0
    where = "standard output" if to_stdout else str(out)
    print(f"device {done.device} {done.action} at site {venue.site}: bundle {where} (it holds the device's secrets: "
          "copy it to the device, apply it there, then delete it)", file=said)  # fmt: skip
    if done.user is not None:
        print(f"  broker user {done.user}: a new password in {venue.broker.password_file}", file=said)
    if done.serial is not None:
        print(f"  certificate {done.serial} (CN {done.device}) valid until {done.not_after}", file=said)
    for serial in done.revoked:
        print(f"  certificate {serial} revoked (CRL {venue.tls.crl_file if venue.tls else '-'})", file=said)
    _said_reload(done.reloaded, done.reload_needed, said)
    print(f"next, on the device: sudo gate provision apply {Path(where).name if not to_stdout else '-'}", file=said)
    return 0


@_refused
def revoke(args: argparse.Namespace) -> int:
    from gate.provision.flow import revoke as revoke_device  # noqa: PLC0415
    from gate.provision.venue import load_venue  # noqa: PLC0415

    done = revoke_device(load_venue(args.venue), args.id)
    if args.json:
        print(json.dumps(done.as_json()))
        return 0
    print(f"device {done.device} revoked: broker user {'removed' if done.removed_user else 'not in the password file'}"
          f"; certificate(s) revoked: {', '.join(done.revoked) or 'none'}")  # fmt: skip
    _said_reload(done.reloaded, done.reload_needed, sys.stdout)
    return 0


@_refused
def crl(args: argparse.Namespace) -> int:
    from gate.provision.flow import refresh_crl  # noqa: PLC0415
    from gate.provision.venue import load_venue  # noqa: PLC0415

    venue = load_venue(args.venue)
    done = refresh_crl(venue)
    assert venue.tls is not None
    print(f"CRL {venue.tls.crl_file} written: {len(done.revoked)} certificate(s) revoked, valid "
          f"{venue.tls.crl_days} days")  # fmt: skip
    _said_reload(done.reloaded, done.reload_needed, sys.stdout)
    return 0


@_refused
def init(args: argparse.Namespace) -> int:
    from gate.provision.flow import init as init_venue  # noqa: PLC0415
    from gate.provision.venue import load_venue  # noqa: PLC0415

    made = init_venue(load_venue(args.venue), args.broker_name or [])
    for line in made or ["nothing to make: the venue's files are there"]:
        print(line)
    return 0


@_refused
def listing(args: argparse.Namespace) -> int:
    from gate.provision.flow import when  # noqa: PLC0415
    from gate.provision.state import State  # noqa: PLC0415
    from gate.provision.venue import load_venue  # noqa: PLC0415

    venue = load_venue(args.venue)
    with State.locked(venue.state) as state:
        devices = dict(sorted(state.devices.items()))
    if args.json:
        print(json.dumps(devices, indent=2))
        return 0
    for name, record in devices.items():
        print(f"{name:24} {record['state']:8} since {when(record.get('since'))}  certificate "
              f"{record.get('serial') or '-'}  provisioned {record.get('generation', 0)} time(s)")  # fmt: skip
    if not devices:
        print(f"no device provisioned yet ({venue.state})")
    return 0


@_refused
def apply(args: argparse.Namespace) -> int:
    from gate.provision.bundle import install, read  # noqa: PLC0415

    checked = read(None if str(args.bundle) == "-" else args.bundle)
    written = install(checked, force=args.force)
    manifest = checked.manifest
    print(f"device {manifest.device} of site {manifest.site} (bundle made {manifest.made_at}):")
    for path in written:
        print(f"  {path} ({path.stat().st_mode & 0o777:o})")
    print("next: systemctl enable --now gate gate-sync (a new ledger takes the hub's snapshot: tickets, members and "
          "staff arrive from the hub)")  # fmt: skip
    return 0


def _said_reload(reloaded: str | None, needed: bool, out: TextIO) -> None:
    if reloaded is not None:
        print(f"  broker reloaded ({reloaded}): the next connection meets the new credentials", file=out)
    elif needed:
        print("  the broker has not read the change yet: systemctl reload mosquitto", file=out)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("provision", help="make a device a member of a venue: its config, broker credentials, "
                       "certificate (docs/scale.md)")  # fmt: skip
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    def venue_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--venue", type=Path, required=True, help="the venue file (docs/scale.md, Provisioning)")

    dev = verbs.add_parser("device", help="a device's bundle: config from the template, password, certificate")
    dev.add_argument("id", help="the device's id: its broker user, its topics, its certificate's name")
    venue_option(dev)
    dev.add_argument("--set", action="append", metavar="NAME=VALUE", help="a template placeholder's value; repeatable")
    dev.add_argument("--replace", action="store_true", help="a device provisioned already: new credentials, the old "
                     "ones revoked (replaced hardware)")  # fmt: skip
    dev.add_argument("--out", help="the bundle file (default: BUNDLES/ID.tar); - for standard output")
    dev.add_argument("--json", action="store_true", help="what was done, as JSON, for scripts")
    dev.set_defaults(func=device)

    rev = verbs.add_parser("revoke", help="a device out: broker user removed, certificates revoked")
    rev.add_argument("id")
    venue_option(rev)
    rev.add_argument("--json", action="store_true")
    rev.set_defaults(func=revoke)

    ini = verbs.add_parser("init", help="the venue's CA, broker certificate, empty CRL and password file")
    venue_option(ini)
    ini.add_argument("--broker-name", action="append", metavar="NAME",
                     help="a name or address of the broker for its certificate; repeatable")  # fmt: skip
    ini.set_defaults(func=init)

    cr = verbs.add_parser("crl", help="write the CRL again (before it lapses: from cron)")
    venue_option(cr)
    cr.set_defaults(func=crl)

    ls = verbs.add_parser("list", help="the venue's devices and their state")
    venue_option(ls)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=listing)

    app = verbs.add_parser("apply", help="on the device: install a bundle (as root)")
    app.add_argument("bundle", type=Path, help="the bundle file, or - for standard input")
    app.add_argument("--force", action="store_true", help="replace another device's config")
    app.set_defaults(func=apply)

