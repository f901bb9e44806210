"""Staff badges: signed credentials of kind `staff`, read at any lane to open a staff session.

Same layout as a visitor's credential (`GT1.<key id>.<payload>.<signature>`, see signed.py),
signed with a key of purpose `staff`. Payload keys: i badge (credential) id, k "staff",
s staff id, r role, f valid from, u valid until (epoch seconds).

The two kinds never pass for each other, by two independent checks: the key's purpose (a
visitor credential is verified against `credential` keys only, a badge against `staff` keys
only) and the payload's kind (a visitor credential refuses `staff`, a badge anything else).
So neither a leaked badge key nor a signer's mix-up lets a badge open a lane as a ticket, or
a ticket log anyone in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.credentials.signed import (
    MAX_LENGTH,
    PREFIX,
    CredentialError,
    KeyPurpose,
    _instant,
    _unb64,
    sign,
    signed_payload,
)
from gate.reasons import Reason
from gate.records import Key, Staff, StaffRole

KIND = "staff"
ROLES: tuple[StaffRole, ...] = ("steward", "supervisor")  # lowest first


@dataclass(frozen=True, slots=True)
class StaffBadge:
    """What a verified staff badge claims. Commands it gives name it `badge:<credential_id>`."""

    key_id: str
    credential_id: str
    staff_id: str
    role: StaffRole
    valid_from: dt.datetime
    valid_until: dt.datetime


class StaffLedger(Protocol):
    """What `check_badge` needs of a ledger (gate.cache.Ledger has it)."""

    def keys(self, purpose: KeyPurpose) -> list[Key]: ...

    def is_revoked(self, id_: str) -> bool: ...

    def staff(self, staff_id: str) -> Staff | None: ...


def encode_badge(badge: StaffBadge, private_key: Ed25519PrivateKey) -> str:
    """The signed text to print on a badge."""
    payload = {
        "i": badge.credential_id,
        "k": KIND,
        "s": badge.staff_id,
        "r": badge.role,
        "f": int(badge.valid_from.timestamp()),
        "u": int(badge.valid_until.timestamp()),
    }
    return sign(badge.key_id, payload, private_key)


def looks_like_badge(text: str) -> bool:
    """Whether `text` is laid out as a staff badge, signature unchecked.

    For routing a read only (to the staff login rather than a visitor's decision): whatever
    it answers, `verify_badge` or `check_badge` decides.
    """
    parts = text.split(".")
    if len(text) > MAX_LENGTH or len(parts) != 4 or parts[0] != PREFIX:
        return False
    try:
        payload = json.loads(_unb64(parts[2]))
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("k") == KIND


def verify_badge(text: str, keys: Iterable[Key], at: dt.datetime) -> StaffBadge:
    """The badge `text` claims, once its layout, its `staff` key, its signature and its
    validity at `at` check out; CredentialError (FORGED, UNKNOWN_KEY, KEY_NOT_VALID,
    NOT_YET_VALID, EXPIRED) otherwise. Revocations and the staff record: see `check_badge`."""
    key_id, payload = signed_payload(text, keys, at, purpose="staff")
    try:
        badge = _badge(key_id, payload)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise CredentialError(Reason.FORGED, f"signed badge is malformed: {exc}") from None
    if at < badge.valid_from:
        raise CredentialError(Reason.NOT_YET_VALID, "badge not valid yet", valid_from=badge.valid_from)
    if at > badge.valid_until:
        raise CredentialError(Reason.EXPIRED, "badge expired", expired_at=badge.valid_until)
    return badge


def check_badge(ledger: StaffLedger, text: str, at: dt.datetime) -> StaffBadge:
    """`verify_badge` against the ledger's keyring, then what the ledger says of it.

    - A revocation record with the badge's credential id refuses it (REVOKED): a lost badge.
    - The staff member must have a staff record (UNKNOWN_CODE otherwise): deleting the
      record by a tombstone takes every badge of theirs away, as it takes their PIN.
    - The record's `valid_until` bounds the badge too (EXPIRED).
    - The role is the lower of the badge's and the record's: a demoted supervisor's old
      badge acts as a steward's.
    """
    badge = verify_badge(text, ledger.keys("staff"), at)
    if ledger.is_revoked(badge.credential_id):
        raise CredentialError(Reason.REVOKED, f"badge {badge.credential_id!r} is revoked")
    record = ledger.staff(badge.staff_id)
    if record is None:
        raise CredentialError(Reason.UNKNOWN_CODE, f"badge {badge.credential_id!r} names no staff member of the ledger")
    if record.valid_until is not None and at > record.valid_until:
        raise CredentialError(Reason.EXPIRED, "staff record expired", expired_at=record.valid_until)
    role = min(badge.role, record.role, key=ROLES.index)
    return badge if role == badge.role else _with_role(badge, role)


def _with_role(badge: StaffBadge, role: StaffRole) -> StaffBadge:
    return StaffBadge(badge.key_id, badge.credential_id, badge.staff_id, role, badge.valid_from, badge.valid_until)


def _badge(key_id: str, payload: Any) -> StaffBadge:
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    if payload["k"] != KIND:
        raise ValueError(f"kind {payload['k']!r} is not a staff badge")
    role = payload["r"]
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    credential_id, staff_id = payload["i"], payload["s"]
    if not (isinstance(credential_id, str) and isinstance(staff_id, str) and credential_id and staff_id):
        raise ValueError("badge and staff ids must be text")
    return StaffBadge(
        key_id=key_id,
        credential_id=credential_id,
        staff_id=staff_id,
        role=role,
        valid_from=_instant(payload, "f"),  # whole seconds within gate.bounds, as a visitor's code
        valid_until=_instant(payload, "u"),
    )
