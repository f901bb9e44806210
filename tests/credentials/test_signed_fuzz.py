"""Fuzzing how a read becomes a claim or a credential, in process: whatever a scanner sends,
and whatever a signer put under a valid signature, the answer is a claim, a credential or a
CredentialError (a refusal with its reason), and a decision on it is an answer, never a crash."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gate.cache import Ledger
from gate.config import parse_config
from gate.credentials import CredentialError, SignedRead, Unreadable, claim_of, entitlement_of, verify
from gate.credentials.signed import PREFIX
from gate.engine import Engine
from gate.reasons import Verdict
from tests import fuzz
from tests.configs import config_text
from tests.credentials.test_signed import K1, KEYRING, LANES, NOON

F = int((NOON - dt.timedelta(hours=3)).timestamp())
U = int((NOON + dt.timedelta(hours=6)).timestamp())
GOOD: dict[str, Any] = {"i": "web-1", "k": "ticket", "f": F, "u": U, "p": "entry-adult", "n": 2, "z": ["main"]}
ZONES = [ZoneInfo(name) for name in ("Europe/Paris", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/New_York")]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("signed-fuzz") / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.import_lines([json.dumps(r) for r in KEYRING], source="keyring")
        yield Engine(ledger, parse_config(config_text(LANES, ledger={"path": path})))


def signed(payload: str) -> str:
    """`payload` (any text, JSON or not) signed with the trusted key k1, as a signer would."""
    body = base64.urlsafe_b64encode(payload.encode("utf-8", "surrogatepass")).rstrip(b"=").decode("ascii")
    head = f"{PREFIX}.k1.{body}"
    signature = base64.urlsafe_b64encode(K1.sign(head.encode("ascii"))).rstrip(b"=").decode("ascii")
    return f"{head}.{signature}"


def _decided(engine: Engine, read: str | bytes) -> None:
    """A decision is an answer: a verdict and a reason, whatever the read."""
    decision = engine.decide(read, lane="a", at=NOON).decision
    assert decision.verdict in (Verdict.ADMIT, Verdict.DENY, Verdict.ATTENTION)
    assert decision.reason


reads = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: "GT1." + text),
    st.sampled_from(fuzz.EDGE_STRINGS),
    st.lists(st.sampled_from(["GT1", "k1", "badge", "", "eyJ9", "AAAA", "!", "\x00", "é"]), max_size=6).map(".".join),
)


@given(read=reads)
def test_any_read_becomes_a_claim_and_a_decision(engine: Engine, read: str | bytes) -> None:
    claim = claim_of(read)
    assert isinstance(claim, str | SignedRead | Unreadable)
    if isinstance(claim, SignedRead):
        try:
            verify(claim.text, engine.ledger.keys("credential"), NOON)
        except CredentialError as exc:
            assert exc.reason
    _decided(engine, read)


payloads = st.one_of(
    fuzz.raw_values(),
    fuzz.mutated(GOOD),
    fuzz.mutated({**GOOD, "k": "membership"}),
    st.fixed_dictionaries(
        {
            "i": st.text(max_size=20),
            "k": st.sampled_from(["ticket", "membership"]),
            "f": st.integers(),
            "u": st.integers(),
        },
        optional={"n": st.integers(), "p": st.text(max_size=10), "z": st.lists(st.text(max_size=8), max_size=3)},
    ).map(json.dumps),
)


@given(payload=payloads)
def test_any_payload_under_a_valid_signature_is_a_credential_or_a_refusal(engine: Engine, payload: str) -> None:
    code = signed(payload)
    try:
        credential = verify(code, engine.ledger.keys("credential"), NOON)
    except CredentialError as exc:
        assert exc.reason
    else:
        for tz in ZONES:  # what the engine builds from it, in any site's zone
            entitlement_of(credential, tz)
    _decided(engine, code)
