"""Signed offline credentials at a lane: accepted before the ledger knows them, refused when
forged, truncated, revoked, expired or signed with a key the gate does not trust."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger
from gate.config import parse_config
from gate.credentials import Credential, encode
from gate.engine import Engine
from gate.reasons import Reason, Verdict
from tests.configs import config_text

PARIS = ZoneInfo("Europe/Paris")
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=PARIS)
# Lane a is in the main zone; a credential may name the hall instead.
LANES = {"zones": {"hall": {"name": "Hall"}}, "lanes": {"l1": None, "a": {"zone": "main"}}}
K1, K2, OLD = (Ed25519PrivateKey.generate() for _ in range(3))


def _public(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


KEYRING = [
    {"type": "key", "id": "k1", "version": 1, "purpose": "credential", "public_key": _public(K1)},
    # Rotation: the next key is already trusted while k1 still signs.
    {"type": "key", "id": "k2", "version": 1, "purpose": "credential", "public_key": _public(K2)},
    {"type": "key", "id": "old", "version": 1, "purpose": "credential", "public_key": _public(OLD),
     "valid_until": "2026-01-01T00:00:00+00:00"},
    {"type": "key", "id": "badge", "version": 1, "purpose": "staff", "public_key": _public(K1)},
    {"type": "revocation", "id": "lost-7", "version": 1, "reason": "reported lost"},
]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.import_lines([json.dumps(r) for r in KEYRING], source="keyring")
        yield Engine(ledger, parse_config(config_text(LANES, ledger={"path": path})))


def ticket(id_: str = "web-42", *, key_id: str = "k1", key: Ed25519PrivateKey = K1, **fields: object) -> str:
    claim = {
        "key_id": key_id,
        "entitlement_id": id_,
        "kind": "ticket",
        "valid_from": NOON - dt.timedelta(hours=3),
        "valid_until": NOON + dt.timedelta(hours=6),
        **fields,
    }
    return encode(Credential(**claim), key)  # type: ignore[arg-type]


def test_a_credential_the_ledger_does_not_know_yet_admits_and_its_use_joins_the_record(engine: Engine) -> None:
    code = ticket(pax=2)
    assert len(code) < 250  # small enough for a low-version QR code on a phone
    first = engine.redeem(code, lane="a", at=NOON)
    assert (first.decision.verdict, first.decision.admitted) == (Verdict.ADMIT, 2)
    assert first.decision.entitlement_id == "web-42"
    assert engine.decide(code, lane="a", at=NOON).decision.reason is Reason.ALREADY_USED
    # The back office's record arrives later: the use made offline already counts against it.
    engine.ledger.import_lines([json.dumps(
        {"type": "entitlement", "kind": "ticket", "id": "web-42", "version": 1, "day": "2026-06-01", "pax": 2,
         "references": ["WEB-42"]})], source="sync")  # fmt: skip
    assert engine.decide("WEB-42", lane="a", at=NOON).decision.reason is Reason.ALREADY_USED


def test_the_ledger_record_outranks_the_credential(engine: Engine) -> None:
    engine.ledger.import_lines([json.dumps(
        {"type": "entitlement", "kind": "ticket", "id": "web-43", "version": 1, "day": "2026-06-01",
         "state": "cancelled"})], source="sync")  # fmt: skip
    assert engine.decide(ticket("web-43"), lane="a", at=NOON).decision.reason is Reason.CANCELLED


def test_several_keys_are_trusted_at_once(engine: Engine) -> None:
    assert engine.decide(ticket("a1"), lane="a", at=NOON).decision.admits
    assert engine.decide(ticket("a2", key_id="k2", key=K2), lane="a", at=NOON).decision.admits


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda c: c[:-6] + ("AAAAAA" if not c.endswith("AAAAAA") else "BBBBBB"), Reason.FORGED),
        (lambda c: c[: len(c) // 2], Reason.FORGED),
        (lambda c: c.rsplit(".", 1)[0], Reason.FORGED),
        (lambda c: c.upper(), Reason.UNKNOWN_KEY),  # "K1" is not "k1"
        (lambda c: c[:-20] + c[-20:].upper(), Reason.FORGED),
        (lambda c: c + ".extra", Reason.FORGED),
        (lambda c: c.replace(".k1.", ".k9."), Reason.UNKNOWN_KEY),
        (lambda c: c.replace(".k1.", ".badge."), Reason.UNKNOWN_KEY),
        (lambda c: "GT1." + "x" * 5000, Reason.UNREADABLE),
    ],
    ids=["bad-signature", "truncated", "no-signature", "case-changed", "signature-case-changed", "extra-part",
         "unknown-key", "staff-key", "huge"],
)
def test_damaged_or_untrusted_credentials_are_refused(engine: Engine, mangle: object, reason: Reason) -> None:
    code = mangle(ticket())  # type: ignore[operator]
    decision = engine.admit(code, lane="a", at=NOON).decision
    assert (decision.verdict, decision.reason) == (Verdict.DENY, reason)


def test_a_payload_swapped_under_a_valid_signature_is_refused(engine: Engine) -> None:
    head, key, _, signature = ticket("cheap").split(".")
    _, _, payload, _ = ticket("expensive", pax=9).split(".")
    assert engine.decide(f"{head}.{key}.{payload}.{signature}", lane="a", at=NOON).decision.reason is Reason.FORGED


def test_a_key_past_its_validity_is_refused_with_its_id(engine: Engine) -> None:
    decision = engine.decide(ticket(key_id="old", key=OLD), lane="a", at=NOON).decision
    assert (decision.reason, decision.params) == (Reason.KEY_NOT_VALID, {"key": "old"})


def test_a_revoked_credential_is_refused(engine: Engine) -> None:
    assert engine.decide(ticket("lost-7"), lane="a", at=NOON).decision.reason is Reason.REVOKED


def test_a_credential_outside_its_validity_is_refused_with_when(engine: Engine) -> None:
    late = engine.decide(ticket(), lane="a", at=NOON + dt.timedelta(hours=7)).decision
    early = engine.decide(ticket(), lane="a", at=NOON - dt.timedelta(hours=4)).decision
    assert late.reason is Reason.TOO_LATE
    assert early.reason is Reason.TOO_EARLY
    assert early.params["opens_at"] == NOON - dt.timedelta(hours=3)


def test_membership_zone_and_test_mode_claims_are_enforced(engine: Engine) -> None:
    member = ticket("m-9", kind="membership", valid_until=NOON + dt.timedelta(days=300))
    assert engine.decide(member, lane="a", at=NOON).decision.admits
    hall_only = ticket("h-1", zones=("hall",))
    assert engine.decide(hall_only, lane="a", at=NOON).decision.reason is Reason.WRONG_ZONE
    test_code = ticket("t-1", mode="test")
    assert engine.decide(test_code, lane="a", at=NOON).decision.reason is Reason.TEST_AT_LIVE_LANE


def test_a_credential_read_as_bytes_or_with_an_aim_prefix_is_the_same(engine: Engine) -> None:
    code = ticket("b-1")
    assert engine.decide(code.encode(), lane="a", at=NOON).decision.admits
    assert engine.decide("]Q1" + code, lane="a", at=NOON).decision.admits


def test_a_credential_read_at_a_closed_lane_is_journaled_with_its_entitlement(engine: Engine) -> None:
    closed = engine.admit(ticket("web-44"), lane="a", at=NOON, closed="locked")
    assert (closed.decision.reason, closed.decision.entitlement_id) == (Reason.LANE_CLOSED, "web-44")
    revoked = engine.admit(ticket("lost-7"), lane="a", at=NOON, closed="locked")
    assert (revoked.decision.reason, revoked.decision.entitlement_id) == (Reason.LANE_CLOSED, "lost-7")
    forged = engine.admit(ticket("web-45", key=K2), lane="a", at=NOON, closed="locked")
    assert (forged.decision.reason, forged.decision.entitlement_id) == (Reason.LANE_CLOSED, None)
    assert [e.entitlement_id for e in engine.ledger.journal() if e.type == "refusal"] == ["web-44", "lost-7", None]
