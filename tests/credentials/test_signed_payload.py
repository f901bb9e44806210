"""A well-signed credential whose payload is malformed: refused FORGED and journaled, as a
lane's admit journals any refusal, never an exception that leaves a visitor without an answer.

Every payload here is signed with a trusted key, so only the payload's own checks stand
between it and the lane: wrong JSON types, values out of range, ids the ledger would refuse.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gate.credentials import CredentialError, verify_badge
from gate.credentials.signed import sign
from gate.engine import Engine
from gate.reasons import Reason, Verdict
from tests.credentials.test_signed import K1, NOON, engine  # noqa: F401  (the engine fixture)

F = int((NOON - dt.timedelta(hours=3)).timestamp())
U = int((NOON + dt.timedelta(hours=6)).timestamp())
GOOD: dict[str, Any] = {"i": "web-1", "k": "ticket", "f": F, "u": U}

MALFORMED: dict[str, Any] = {
    # times: not whole seconds, or outside 2000..2100, or not after the start
    "f as text": {**GOOD, "f": str(F)},
    "f as a float": {**GOOD, "f": F + 0.5},
    "f as true": {**GOOD, "f": True},
    "u in year 9999": {**GOOD, "u": 253402300799},
    "f in year 1": {**GOOD, "f": -62135596800},
    "u before f": {**GOOD, "f": U, "u": F},
    "u equal to f": {**GOOD, "u": F},
    "a membership until 9999": {**GOOD, "k": "membership", "u": 253402300799},
    "a membership ending before it starts": {**GOOD, "k": "membership", "f": U, "u": F},
    # pax
    "pax as text": {**GOOD, "n": "2"},
    "pax as a float": {**GOOD, "n": 2.7},
    "pax as true": {**GOOD, "n": True},
    # ids
    "id as a number": {**GOOD, "i": 5},
    "id null": {**GOOD, "i": None},
    "id empty": {**GOOD, "i": ""},
    "id with blanks": {**GOOD, "i": "web 1!"},
    "product as a number": {**GOOD, "p": 5},
    "product with blanks": {**GOOD, "p": "adult entry"},
    "zones as text": {**GOOD, "z": "main"},
    "zones as a table": {**GOOD, "z": {"main": 1}},
    "a zone with blanks": {**GOOD, "z": ["main hall"]},
    "zones nested": {**GOOD, "z": [["main"]]},
    # keys
    "an unknown key": {**GOOD, "x": 1},
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_payload_under_a_valid_signature_is_refused_and_journaled(engine: Engine, payload: Any) -> None:  # noqa: F811
    assert engine.decide(sign("k1", GOOD, K1), lane="a", at=NOON).decision.admits  # its well-formed twin
    before = len(engine.ledger.journal())
    outcome = engine.admit(sign("k1", payload, K1), lane="a", at=NOON)
    assert (outcome.decision.verdict, outcome.decision.reason, outcome.decision.admitted) == (
        Verdict.DENY,
        Reason.FORGED,
        0,
    )
    journaled = engine.ledger.journal()[before:]
    assert [(entry.type, entry.reason) for entry in journaled] == [("refusal", "forged")]


def test_a_membership_from_the_first_instant_of_2000_is_decided_in_any_zone(engine: Engine) -> None:  # noqa: F811
    # 2000-01-01T00:00Z is still 1999 in New York: the local day is kept within the ledger's
    # days (gate.bounds.FIRST_DAY), which the records' own bounds refuse to go below.
    first = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp())
    code = sign("k1", {**GOOD, "k": "membership", "f": first, "u": U}, K1)
    new_york = engine.config.model_copy(
        update={"site": engine.config.site.model_copy(update={"timezone": "America/New_York"})}
    )
    decision = Engine(engine.ledger, new_york).decide(code, lane="a", at=NOON).decision
    assert (decision.verdict, decision.reason) == (Verdict.ADMIT, Reason.OK)


@pytest.mark.parametrize("valid_from", [2**62, str(F), F + 0.5, True], ids=repr)
def test_a_staff_badge_with_a_malformed_time_is_refused_not_raised(engine: Engine, valid_from: object) -> None:  # noqa: F811
    payload = {"i": "badge-1", "k": "staff", "s": "s-1", "r": "steward", "f": valid_from, "u": U}
    with pytest.raises(CredentialError) as caught:
        verify_badge(sign("badge", payload, K1), engine.ledger.keys("staff"), NOON)
    assert caught.value.reason is Reason.FORGED
