"""Turns what a reader saw into what it claims: a plain reference or a signed credential.

Plain references (a back office's ticket number, a membership order number, a voucher code,
a Wallet pass message) are looked up in the ledger. Signed offline credentials carry their
own claim and are checked against the keyring (docs/credentials.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from gate.credentials.badge import StaffBadge, check_badge, encode_badge, looks_like_badge, verify_badge
from gate.credentials.reference import Unreadable, reference_of, reference_of_text, text_of
from gate.credentials.signed import (
    KEY_ID,
    Credential,
    CredentialError,
    encode,
    entitlement_of,
    looks_signed,
    verify,
)
from gate.records import MAX_REFERENCE


@dataclass(frozen=True, slots=True)
class SignedRead:
    """A read that is a signed credential, not yet verified."""

    text: str


def claim_of(read: str | bytes) -> str | SignedRead | Unreadable:
    """What a read claims: a reference to look up, a signed credential to verify, or nothing."""
    text = text_of(read)
    if isinstance(text, Unreadable):
        return text
    if looks_signed(text):
        # Signed credentials are case-sensitive (base64url): never normalised like references.
        return SignedRead(text)
    return reference_of_text(text)


def badge_of(read: str | bytes) -> str | None:
    """The text of a staff badge, if `read` is laid out as one (signature unchecked), else None.

    For routing a read to the staff login before any decision; a cheap substring test first,
    since nearly every read is a visitor's code.
    """
    if ("GT1." not in read) if isinstance(read, str) else (b"GT1." not in read):
        return None
    text = text_of(read)
    return text if not isinstance(text, Unreadable) and looks_like_badge(text) else None


__all__ = [
    "KEY_ID",
    "MAX_REFERENCE",
    "Credential",
    "CredentialError",
    "SignedRead",
    "StaffBadge",
    "Unreadable",
    "badge_of",
    "check_badge",
    "claim_of",
    "encode",
    "encode_badge",
    "entitlement_of",
    "looks_like_badge",
    "looks_signed",
    "reference_of",
    "text_of",
    "verify",
    "verify_badge",
]
