"""Signed offline credentials: codes a gate can check before its ledger knows them.

Layout (docs/credentials.md), ASCII only so it fits QR byte mode or Aztec compactly:

    GT1.<key id>.<payload>.<signature>

`payload` is base64url (no padding) of compact JSON; `signature` is base64url of the Ed25519
signature over the ASCII bytes `GT1.<key id>.<payload>`. Payload keys are one letter to keep
the code small: i entitlement id, k kind, f valid from, u valid until (epoch seconds),
p product, n pax, m mode ("test" only when not live), z zones.

A credential never outranks the ledger: when the ledger holds its entitlement, that record
decides. The credential only stands in until the ledger catches up.

A payload is checked key by key even under a valid signature (a signer's bug must not open a
lane, nor crash one): exact JSON types (no "2" for 2, no true for 1), times within
gate.bounds, pax 1 to 999, ids as the ledger's, no unknown key. Anything else is FORGED.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from gate.bounds import FIRST_DAY, LAST_DAY, in_range
from gate.decision import Param
from gate.reasons import Reason
from gate.records import Access, Entitlement, Key, Membership, Mode, Slot, Ticket

KeyPurpose = Literal["credential", "ledger", "command", "staff"]

PREFIX = "GT1"
# Key ids travel inside the dotted layout, so they never contain a dot.
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_LENGTH = 1024
CredentialKind = Literal["ticket", "membership"]
PAYLOAD_KEYS = frozenset("ikfupnmz")
MAX_PAX = 999


@dataclass(frozen=True, slots=True)
class Credential:
    """What a verified credential claims."""

    key_id: str
    entitlement_id: str
    kind: CredentialKind
    valid_from: dt.datetime
    valid_until: dt.datetime
    product: str | None = None
    pax: int = 1
    mode: Mode = "live"
    zones: tuple[str, ...] | None = None


class CredentialError(Exception):
    """Why a signed credential is refused: a reason code and its parameters."""

    def __init__(self, reason: Reason, detail: str, **params: Param) -> None:
        super().__init__(detail)
        self.reason = reason
        self.params = params


def looks_signed(read: str) -> bool:
    return read.startswith(PREFIX + ".")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(credential: Credential, private_key: Ed25519PrivateKey) -> str:
    """The signed text to put into a barcode."""
    payload: dict[str, Any] = {
        "i": credential.entitlement_id,
        "k": credential.kind,
        "f": int(credential.valid_from.timestamp()),
        "u": int(credential.valid_until.timestamp()),
    }
    if credential.product:
        payload["p"] = credential.product
    if credential.pax != 1:
        payload["n"] = credential.pax
    if credential.mode != "live":
        payload["m"] = credential.mode
    if credential.zones is not None:
        payload["z"] = list(credential.zones)
    return sign(credential.key_id, payload, private_key)


def sign(key_id: str, payload: dict[str, Any], private_key: Ed25519PrivateKey) -> str:
    """`GT1.<key id>.<payload>.<signature>` for any payload (a credential's, a staff badge's)."""
    if not KEY_ID.fullmatch(key_id):
        raise ValueError(f"key id {key_id!r} is not 1 to 32 of A-Z a-z 0-9 _ -")
    body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    signed = f"{PREFIX}.{key_id}.{body}"
    return f"{signed}.{_b64(private_key.sign(signed.encode('ascii')))}"


def verify(text: str, keys: Iterable[Key], at: dt.datetime) -> Credential:
    """The credential `text` claims, once its layout, key and signature check out."""
    key_id, payload = signed_payload(text, keys, at, purpose="credential")
    # Past the signature the payload is the signer's own; a malformed one is still refused
    # rather than trusted, since a signer's bug must not open a lane.
    try:
        credential = _credential(key_id, payload)
        entitlement_of(credential, dt.UTC)  # what the engine builds from it: the ledger's own checks
    except ValidationError as exc:  # a ValueError too: first
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})) or "payload"
        raise CredentialError(Reason.FORGED, f"signed payload is malformed: not a valid {fields}") from None
    except ValueError as exc:
        raise CredentialError(Reason.FORGED, f"signed payload is malformed: {exc}") from None
    return credential


def signed_payload(text: str, keys: Iterable[Key], at: dt.datetime, *, purpose: KeyPurpose) -> tuple[str, Any]:
    """The key id and the decoded payload of `text`, once its layout, its key (of `purpose`:
    a key of any other purpose is unknown here) and its signature check out."""
    if len(text) > MAX_LENGTH:
        raise CredentialError(Reason.FORGED, f"longer than {MAX_LENGTH} characters")
    parts = text.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise CredentialError(Reason.FORGED, "not GT1.<key>.<payload>.<signature>")
    _, key_id, body, signature = parts
    key = next((k for k in keys if k.id == key_id and k.purpose == purpose), None)
    if key is None:
        raise CredentialError(Reason.UNKNOWN_KEY, f"no {purpose} key {key_id!r} in the keyring", key=key_id[:64])
    if (key.valid_from and at < key.valid_from) or (key.valid_until and at > key.valid_until):
        raise CredentialError(Reason.KEY_NOT_VALID, f"key {key_id!r} is not valid now", key=key_id)
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key, validate=True))
        public.verify(_unb64(signature), f"{PREFIX}.{key_id}.{body}".encode("ascii"))
    except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError):
        raise CredentialError(Reason.FORGED, f"signature does not verify with key {key_id!r}") from None
    try:
        return key_id, json.loads(_unb64(body))
    except (ValueError, RecursionError) as exc:
        raise CredentialError(Reason.FORGED, f"signed payload is malformed: {type(exc).__name__}") from None


def _credential(key_id: str, payload: object) -> Credential:
    """The claim of a payload, every key checked for its JSON type and range (ValueError names it)."""
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    if unknown := sorted(str(key)[:8] for key in payload.keys() - PAYLOAD_KEYS):
        raise ValueError(f"unknown key {', '.join(unknown)}")
    missing = sorted(key for key in "ikfu" if key not in payload)
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    kind, mode = payload["k"], payload.get("m", "live")
    if kind not in ("ticket", "membership"):
        raise ValueError("k: not ticket or membership")
    if mode not in ("live", "test"):
        raise ValueError("m: not live or test")
    entitlement_id, product, pax = payload["i"], payload.get("p"), payload.get("n", 1)
    if not isinstance(entitlement_id, str):
        raise ValueError("i: not text")
    if product is not None and not isinstance(product, str):
        raise ValueError("p: not text")
    if type(pax) is not int or not 1 <= pax <= MAX_PAX:  # not bool, not float
        raise ValueError(f"n: not a whole number from 1 to {MAX_PAX}")
    zones = payload.get("z")
    if zones is not None and not (isinstance(zones, list) and all(isinstance(z, str) for z in zones)):
        raise ValueError("z: not a list of zone ids")
    valid_from, valid_until = _instant(payload, "f"), _instant(payload, "u")
    if valid_until <= valid_from:
        raise ValueError("u: not after f")
    return Credential(
        key_id=key_id,
        entitlement_id=entitlement_id,
        kind=kind,
        valid_from=valid_from,
        valid_until=valid_until,
        product=product,
        pax=pax,
        mode=mode,
        zones=None if zones is None else tuple(zones),
    )


def _instant(payload: dict[str, Any], key: str) -> dt.datetime:
    seconds = payload[key]
    if type(seconds) is not int or not in_range(seconds):  # not bool, not float
        raise ValueError(f"{key}: not whole Unix seconds from 2000 to 2100")
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def entitlement_of(credential: Credential, tz: dt.tzinfo) -> Entitlement:
    """The entitlement a credential stands in for until the ledger holds the real record.

    Its uses are recorded under the same id, so they join the record when it arrives.
    """
    access = Access(zones=credential.zones)
    common: dict[str, Any] = {
        "id": credential.entitlement_id,
        "version": 1,
        "product": credential.product,
        "mode": credential.mode,
        "access": access,
    }
    if credential.kind == "membership":
        # Local days, kept within the ledger's (a first instant of 2000 is 1999 in New York).
        return Membership(
            **common,
            valid_from=min(max(credential.valid_from.astimezone(tz).date(), FIRST_DAY), LAST_DAY),
            expires_on=min(max(credential.valid_until.astimezone(tz).date(), FIRST_DAY), LAST_DAY),
        )
    return Ticket(**common, slot=Slot(starts_at=credential.valid_from, ends_at=credential.valid_until),
                  pax=credential.pax)  # fmt: skip
