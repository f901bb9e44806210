"""Signed offline credentials: codes a gate can check before its ledger knows them.

Layout (docs/credentials.md), ASCII only so it fits QR byte mode or Aztec compactly:

    GT1.<key id>.<payload>.<signature>

`payload` is base64url (no padding) of compact JSON; `signature` is base64url of the Ed25519
signature over the ASCII bytes `GT1.<key id>.<payload>`. Payload keys are one letter to keep
the code small: i entitlement id, k kind, f valid from, u valid until (epoch seconds),
p product, n pax, m mode ("test" only when not live), z zones.

A credential never outranks the ledger: when the ledger holds its entitlement, that record
decides. The credential only stands in until the ledger catches up.
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

from gate.decision import Param
from gate.reasons import Reason
from gate.records import Access, Entitlement, Key, Membership, Mode, Slot, Ticket

KeyPurpose = Literal["credential", "ledger", "command", "staff"]

PREFIX = "GT1"
# Key ids travel inside the dotted layout, so they never contain a dot.
KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_LENGTH = 1024
CredentialKind = Literal["ticket", "membership"]


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
        return _credential(key_id, payload)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise CredentialError(Reason.FORGED, f"signed payload is malformed: {exc}") from None


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
    except ValueError as exc:
        raise CredentialError(Reason.FORGED, f"signed payload is malformed: {exc}") from None


def _credential(key_id: str, payload: dict[str, Any]) -> Credential:
    kind = payload["k"]
    if kind not in ("ticket", "membership"):
        raise ValueError(f"unknown kind {kind!r}")
    mode = payload.get("m", "live")
    if mode not in ("live", "test"):
        raise ValueError(f"unknown mode {mode!r}")
    pax = int(payload.get("n", 1))
    if not 1 <= pax <= 999:
        raise ValueError("pax out of range")
    zones = payload.get("z")
    return Credential(
        key_id=key_id,
        entitlement_id=str(payload["i"]),
        kind=kind,
        valid_from=dt.datetime.fromtimestamp(int(payload["f"]), dt.UTC),
        valid_until=dt.datetime.fromtimestamp(int(payload["u"]), dt.UTC),
        product=payload.get("p"),
        pax=pax,
        mode=mode,
        zones=None if zones is None else tuple(str(z) for z in zones),
    )


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
        return Membership(
            **common,
            valid_from=credential.valid_from.astimezone(tz).date(),
            expires_on=credential.valid_until.astimezone(tz).date(),
        )
    return Ticket(**common, slot=Slot(starts_at=credential.valid_from, ends_at=credential.valid_until),
                  pax=credential.pax)  # fmt: skip
