"""`gate keys generate` and `gate issue`: make signing keys, signed offline credentials and staff badges."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cli.context import UsageError, parse_time
from gate.credentials import KEY_ID, Credential, StaffBadge, encode, encode_badge


def keys_generate(args: argparse.Namespace) -> int:
    """Write a private key (mode 0600) and print the ledger line that publishes its public half."""
    target: Path = args.out / f"{args.id}.key"
    if target.exists():
        raise UsageError(f"{target} exists; a key is never overwritten")
    if not KEY_ID.fullmatch(args.id):
        raise UsageError(f"not a usable key id {args.id!r}: 1 to 32 of A-Z a-z 0-9 _ -")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    args.out.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    line = {"type": "key", "id": args.id, "version": 1, "purpose": args.purpose,
            "public_key": base64.b64encode(public).decode("ascii")}  # fmt: skip
    print(json.dumps(line))
    return 0


def _private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"{path}: not a readable Ed25519 private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path}: not an Ed25519 private key")
    return key


def issue(args: argparse.Namespace) -> int:
    """Print a signed credential (or a staff badge) and, with --out, render it as a barcode image."""
    staff = args.kind == "staff"
    if args.valid_from is None and not staff:
        raise UsageError("--from is required (a staff badge alone starts now by default)")
    valid_from, valid_until = parse_time(args.valid_from, dt.UTC), parse_time(args.valid_until, dt.UTC)
    if valid_until <= valid_from:
        raise UsageError("--until must be after --from")
    if not 1 <= args.pax <= 999:
        raise UsageError("--pax must be between 1 and 999")
    key_id = args.key_id or args.key.stem
    if staff:
        text = encode_badge(_badge(args, key_id, valid_from, valid_until), _private_key(args.key))
    else:
        if args.staff or args.role:
            raise UsageError("--staff and --role are for --kind staff")
        credential = Credential(
            key_id=key_id,
            entitlement_id=args.id,
            kind=args.kind,
            valid_from=valid_from,
            valid_until=valid_until,
            product=args.product,
            pax=args.pax,
            mode="test" if args.test else "live",
            zones=tuple(args.zone) if args.zone else None,
        )
        text = encode(credential, _private_key(args.key))
    print(text)
    if args.out is not None:
        # Imported here: the image libraries cost start-up time every other command need not pay.
        from gate.credentials.render import render  # noqa: PLC0415

        try:
            render(text, args.symbology, args.out)
        except (ValueError, OSError) as exc:
            raise UsageError(str(exc)) from None
    return 0


def _badge(args: argparse.Namespace, key_id: str, valid_from: dt.datetime, valid_until: dt.datetime) -> StaffBadge:
    if not (args.staff and args.role):
        raise UsageError("a staff badge needs --staff ID and --role steward|supervisor")
    if args.pax != 1 or args.product or args.zone or args.test:
        raise UsageError("--pax, --product, --zone and --test are not for a staff badge")
    return StaffBadge(key_id, args.id, args.staff, args.role, valid_from, valid_until)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="signing keys for offline credentials")
    verbs = keys.add_subparsers(dest="verb", required=True, metavar="VERB")
    gen = verbs.add_parser("generate", help="write ID.key and print its ledger `key` line")
    gen.add_argument("--id", required=True, help="key id, named in every credential it signs")
    gen.add_argument("--purpose", default="credential", choices=("credential", "ledger", "command", "staff"))
    gen.add_argument("--out", type=Path, default=Path(), help="directory for the private key (default: here)")
    gen.set_defaults(func=keys_generate)

    iss = sub.add_parser("issue", help="sign an offline credential or a staff badge; --out renders it as PNG or SVG")
    iss.add_argument("--key", type=Path, required=True, help="private key file from `gate keys generate`")
    iss.add_argument("--key-id", help="key id (default: the key file's name)")
    iss.add_argument("--id", required=True, help="entitlement id the credential stands for (a badge: its own id)")
    iss.add_argument("--kind", choices=("ticket", "membership", "staff"), default="ticket",
                     help="staff: a staff badge, signed with a key of purpose staff")  # fmt: skip
    iss.add_argument("--staff", help="staff id the badge is for (--kind staff)")
    iss.add_argument("--role", choices=("steward", "supervisor"), help="the badge's role (--kind staff)")
    iss.add_argument("--from", dest="valid_from", help="valid from (ISO 8601 with offset; a badge: default now)")
    iss.add_argument("--until", dest="valid_until", required=True, help="valid until (ISO 8601 with offset)")
    iss.add_argument("--pax", type=int, default=1, help="persons one scan admits (tickets)")
    iss.add_argument("--product", help="product id")
    iss.add_argument("--zone", action="append", help="zone it admits to; repeatable (default: all)")
    iss.add_argument("--test", action="store_true", help="a test credential (admitted at test lanes only)")
    iss.add_argument("--symbology", choices=("qr", "aztec", "pdf417"), default="qr")
    iss.add_argument("--out", type=Path, help="image file to write (.png or .svg)")
    iss.set_defaults(func=issue)
