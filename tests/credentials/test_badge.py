"""Staff badges: a badge signed with a staff key logs its holder in with their role; a forged,
expired, revoked or wrongly signed one does not; a badge never passes for a visitor's credential
and a visitor's credential never passes for a badge."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger
from gate.credentials import (
    Credential,
    CredentialError,
    StaffBadge,
    badge_of,
    check_badge,
    encode,
    encode_badge,
    looks_like_badge,
    verify,
    verify_badge,
)
from gate.credentials.signed import sign
from gate.reasons import Reason
from gate.records import StaffRole

UTC = dt.UTC
NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
STAFF_KEY, VISITOR_KEY, STRANGER = (Ed25519PrivateKey.generate() for _ in range(3))


def _public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


LEDGER = [
    {"type": "key", "id": "badges", "version": 1, "purpose": "staff", "public_key": _public(STAFF_KEY)},
    {"type": "key", "id": "tickets", "version": 1, "purpose": "credential", "public_key": _public(VISITOR_KEY)},
    # The same key pair under both purposes: only the purpose check tells the two apart.
    {"type": "key", "id": "both-staff", "version": 1, "purpose": "staff", "public_key": _public(VISITOR_KEY)},
    {"type": "key", "id": "retired", "version": 1, "purpose": "staff", "public_key": _public(STAFF_KEY),
     "valid_until": "2026-01-01T00:00:00Z"},
    {"type": "staff", "id": "s-17", "version": 1, "role": "supervisor", "name": "Marie D."},
    {"type": "staff", "id": "s-18", "version": 1, "role": "steward", "name": "Jonas K.",
     "valid_until": "2026-05-31T00:00:00Z"},
    {"type": "revocation", "id": "badge-lost", "version": 1, "reason": "lost at the cloakroom"},
]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite") as opened:
        opened.import_lines([json.dumps(r) for r in LEDGER], source="staff")
        yield opened


def badge(credential_id: str = "badge-1", staff_id: str = "s-17", role: StaffRole = "supervisor", *,
          key_id: str = "badges", key: Ed25519PrivateKey = STAFF_KEY, hours: int = 8) -> str:  # fmt: skip
    start = NOON - dt.timedelta(hours=1)
    claim = StaffBadge(key_id, credential_id, staff_id, role, start, start + dt.timedelta(hours=hours))
    return encode_badge(claim, key)


def refusal(ledger: Ledger, text: str, at: dt.datetime = NOON) -> tuple[Reason, dict[str, object]]:
    with pytest.raises(CredentialError) as caught:
        check_badge(ledger, text, at)
    return caught.value.reason, dict(caught.value.params)


def test_a_badge_logs_its_holder_in_with_its_role(ledger: Ledger) -> None:
    text = badge()
    assert looks_like_badge(text)
    assert len(text) < 250  # a small QR code on a lanyard card
    found = check_badge(ledger, text, NOON)
    assert (found.staff_id, found.role, found.credential_id) == ("s-17", "supervisor", "badge-1")
    assert found.key_id == "badges"
    assert found.valid_until == NOON + dt.timedelta(hours=7)
    assert verify_badge(text, ledger.keys("staff"), NOON) == found


def test_an_expired_or_not_yet_valid_badge_is_refused(ledger: Ledger) -> None:
    assert refusal(ledger, badge(), NOON + dt.timedelta(hours=8)) == (
        Reason.EXPIRED, {"expired_at": NOON + dt.timedelta(hours=7)})  # fmt: skip
    assert refusal(ledger, badge(), NOON - dt.timedelta(hours=2)) == (
        Reason.NOT_YET_VALID, {"valid_from": NOON - dt.timedelta(hours=1)})  # fmt: skip


def test_a_revoked_badge_is_refused_and_the_holders_other_badges_still_work(ledger: Ledger) -> None:
    assert refusal(ledger, badge("badge-lost"))[0] == Reason.REVOKED
    assert check_badge(ledger, badge("badge-new"), NOON).staff_id == "s-17"


def test_the_staff_record_bounds_the_badge(ledger: Ledger) -> None:
    # Jonas's record ended yesterday: his badge, valid for hours still, no longer logs him in.
    assert refusal(ledger, badge("b-18", "s-18", "steward")) == (
        Reason.EXPIRED, {"expired_at": dt.datetime(2026, 5, 31, tzinfo=UTC)})  # fmt: skip
    assert refusal(ledger, badge("b-99", "s-99"))[0] == Reason.UNKNOWN_CODE
    ledger.import_lines([json.dumps({"type": "staff", "id": "s-17", "version": 2, "deleted": True})], source="gone")
    assert refusal(ledger, badge())[0] == Reason.UNKNOWN_CODE
    # Back, demoted: the old supervisor badge acts as a steward's.
    ledger.import_lines([json.dumps({"type": "staff", "id": "s-17", "version": 3, "role": "steward",
                                     "name": "Marie D."})], source="back")  # fmt: skip
    assert check_badge(ledger, badge(), NOON).role == "steward"


def test_forged_and_unknown_keys_are_refused(ledger: Ledger) -> None:
    text = badge()
    head, payload, signature = text.rsplit(".", 2)
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["s"] = "s-18"
    forged = f"{head}.{base64.urlsafe_b64encode(json.dumps(tampered).encode()).decode().rstrip('=')}.{signature}"
    assert refusal(ledger, forged)[0] == Reason.FORGED
    assert refusal(ledger, text[:-3])[0] == Reason.FORGED
    assert refusal(ledger, badge(key=STRANGER))[0] == Reason.FORGED
    assert refusal(ledger, badge(key_id="nobody")) == (Reason.UNKNOWN_KEY, {"key": "nobody"})
    assert refusal(ledger, badge(key_id="retired")) == (Reason.KEY_NOT_VALID, {"key": "retired"})
    wrong_role = sign("badges", {"i": "b", "k": "staff", "s": "s-17", "r": "admin", "f": 0, "u": 2**31}, STAFF_KEY)
    assert refusal(ledger, wrong_role)[0] == Reason.FORGED


def test_a_read_is_routed_to_the_staff_login_as_a_scanner_sends_it() -> None:
    text = badge()
    # As text or bytes, behind an AIM or ECI prefix, with the scanner's line end.
    for read in (text, text.encode(), f"]Q1{text}\r\n", b"\\000026" + text.encode()):
        assert badge_of(read) == text, read
    start = NOON - dt.timedelta(hours=1)
    ticket = encode(Credential("tickets", "t-1", "ticket", start, start + dt.timedelta(hours=8)), VISITOR_KEY)
    for other in (ticket, "ONE", b"\xff\xfe GT1.", "GT1.x.y"):
        assert badge_of(other) is None, other


def test_a_visitor_credential_is_never_a_badge(ledger: Ledger) -> None:
    start = NOON - dt.timedelta(hours=1)
    ticket = encode(Credential("tickets", "t-1", "ticket", start, start + dt.timedelta(hours=8)), VISITOR_KEY)
    assert not looks_like_badge(ticket)
    # Signed with a credential key: that key is unknown to badges.
    assert refusal(ledger, ticket) == (Reason.UNKNOWN_KEY, {"key": "tickets"})
    # Signed with a staff key, but a ticket's payload: refused by its kind.
    same_key = encode(Credential("both-staff", "t-1", "ticket", start, start + dt.timedelta(hours=8)), VISITOR_KEY)
    assert refusal(ledger, same_key)[0] == Reason.FORGED
    # Even a badge's payload signed with a credential key is no badge.
    with pytest.raises(CredentialError) as caught:
        verify_badge(badge(key_id="tickets", key=VISITOR_KEY), ledger.keys("credential") + ledger.keys("staff"), NOON)
    assert caught.value.reason == Reason.UNKNOWN_KEY


def test_a_badge_is_never_a_visitor_credential(ledger: Ledger) -> None:
    every_key = ledger.keys("credential") + ledger.keys("staff")
    with pytest.raises(CredentialError) as caught:
        verify(badge(), every_key, NOON)
    assert caught.value.reason == Reason.UNKNOWN_KEY  # a staff key never verifies a visitor's code
    with pytest.raises(CredentialError) as caught:
        verify(badge(key_id="tickets", key=VISITOR_KEY), every_key, NOON)
    assert caught.value.reason == Reason.FORGED  # a credential key, but the payload is a badge's
