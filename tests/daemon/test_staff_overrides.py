"""Overrides, attention confirmations, voids and staff badges through a real `gate run` process.

Each act goes over the control socket (or the CLI) with its audience rules, walks the lane's
test kit through the passage it opens, and is found in the journal with who did it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger
from gate.cli import main
from gate.credentials import StaffBadge, encode_badge
from gate.staff import hash_pin
from tests.daemon.conftest import DaemonProcess, Start, Venue, wait_ready

STEWARD = {"staff": "s-1", "pin": "2468"}
SUPERVISOR = {"staff": "s-2", "pin": "1357"}
BADGE_KEY = Ed25519PrivateKey.generate()


def _public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(serialization.Encoding.Raw,
                                                          serialization.PublicFormat.Raw)).decode()  # fmt: skip


def _import(venue: Venue) -> None:
    tomorrow = (dt.datetime.now(ZoneInfo("Europe/Paris")).date() + dt.timedelta(days=1)).isoformat()
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    records = [
        {"type": "header", "format": "gate-ledger", "version": 1},
        {"type": "staff", "id": "s-1", "version": 1, "role": "steward", "name": "Ana B.", "pin": hash_pin("2468")},
        {"type": "staff", "id": "s-2", "version": 1, "role": "supervisor", "name": "Leo C.", "pin": hash_pin("1357")},
        {"type": "key", "id": "badges", "version": 1, "purpose": "staff", "public_key": _public(BADGE_KEY)},
        {"type": "entitlement", "kind": "ticket", "id": "t-later", "version": 1, "day": tomorrow,
         "references": ["LATER"]},
        {"type": "entitlement", "kind": "ticket", "id": "t-kid", "version": 1, "day": today, "flags": ["child"],
         "references": ["KID"]},
    ]  # fmt: skip
    lines = venue.dir / "staff.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0




def _last_decision(daemon: DaemonProcess, count: int, reason: str) -> str:
    status = daemon.wait_until(lambda s: len(s["lane"]["last_decisions"]) >= count)
    decision = status["lane"]["last_decisions"][count - 1]
    assert decision["reason"] == reason, decision
    return str(decision["decision_id"])


def _pass(venue: Venue, daemon: DaemonProcess, committed: int) -> None:
    daemon.wait_until(lambda s: s["lane"]["passage"] is not None)
    assert venue.ask({"op": "sim_passage"})["ok"]
    daemon.wait_until(lambda s: [p["outcome"] for p in s["lane"]["last_passages"]].count("committed") == committed)


def test_override_confirm_and_void_with_their_audiences(venue: Venue, start_daemon: Start) -> None:
    _import(venue)
    daemon = start_daemon()
    wait_ready(daemon)

    # A ticket for tomorrow is refused; a steward may not override it, a supervisor may (CLI, PIN on stdin).
    venue.scan("LATER")
    refused = _last_decision(daemon, 1, "too_early")
    denied = venue.ask({"op": "override", "decision": refused, "reason": "x", "login": STEWARD})
    assert denied == {"ok": False, "error": "override: not allowed for a steward (allowed: supervisor)"}
    done = venue.gate("lane", "override", refused, "--reason", "date misprinted", "--staff", "s-2", stdin="1357\n")
    assert done.returncode == 0 and "admit override t-later x1" in done.stdout, (done.stdout, done.stderr)
    _pass(venue, daemon, 1)

    # A ticket used a moment ago and refused: its override waits for an explicit confirmation.
    venue.scan("ONE")
    _pass(venue, daemon, 2)
    venue.scan("ONE")
    again = _last_decision(daemon, 4, "already_used")
    asked = venue.ask({"op": "override", "decision": again, "reason": "re-entry", "login": SUPERVISOR})
    assert not asked["ok"] and asked["needs_confirmation"] is True and "admitted here at" in asked["error"]
    hint = venue.gate("lane", "override", again, "--reason", "re-entry")
    assert hint.returncode == 1 and "--confirm" in hint.stderr
    confirmed = venue.ask({"op": "override", "decision": again, "reason": "re-entry", "confirm": True,
                             "login": SUPERVISOR})  # fmt: skip
    assert confirmed["ok"] and confirmed["decided"]["decision"]["reason"] == "override", confirmed
    _pass(venue, daemon, 3)

    # A child's ticket waits for staff; a steward confirms, and the lane opens.
    venue.scan("KID")
    attention = _last_decision(daemon, 6, "child")
    daemon.wait_until(lambda s: s["lane"]["attention"] == [attention])
    checked = venue.ask({"op": "confirm", "decision": attention, "reason": "with her father", "login": STEWARD})
    assert checked["ok"] and checked["decided"]["decision"]["verdict"] == "admit", checked
    _pass(venue, daemon, 4)
    twice = venue.ask({"op": "confirm", "decision": attention, "login": STEWARD})
    assert not twice["ok"] and "confirmed or expired" in twice["error"]

    # The first redemption of ONE is voided by a supervisor, not by a steward.
    with Ledger.open(venue.ledger) as ledger:
        (first,) = [e.redemption_id for e in ledger.journal() if e.type == "redemption.committed"
                    and e.entitlement_id == "t-one" and e.body["reason"] == "ok"]  # fmt: skip
    assert not venue.ask({"op": "void", "redemption": first, "reason": "x", "login": STEWARD})["ok"]
    void = venue.gate("lane", "void", str(first), "--reason", "charged twice")
    assert void.returncode == 0 and void.stdout.strip() == f"void: redemption {first}: 1 use(s) given back"
    assert daemon.stop() == 0

    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
        overrides = [e for e in journal if e.type == "staff.override"]
        assert [(e.body["decision"], e.body["staff"], e.body["confirmed"]) for e in overrides] == [
            (refused, "pin:s-2", False), (again, "pin:s-2", True)
        ]  # fmt: skip
        (confirm,) = [e for e in journal if e.type == "staff.confirm"]
        assert (confirm.body["decision"], confirm.body["staff"], confirm.body["why"]) == (
            attention, "pin:s-1", "with her father"
        )  # fmt: skip
        (voided,) = [e for e in journal if e.type == "redemption.voided"]
        assert voided.redemption_id == first and voided.body["staff"].startswith("unix:")
        # ONE's uses: the voided one is gone, the override's counts.
        assert [u.persons for u in ledger.uses(["t-one"])] == [1]


def test_an_attention_verdict_expires_journaled_and_a_badge_read_is_a_staff_login(
    venue: Venue, start_daemon: Start
) -> None:
    _import(venue)
    venue.config.write_text(venue.config.read_text() + "\n[staff]\nattention_expiry_s = 1\n")
    daemon = start_daemon()
    wait_ready(daemon)
    assert venue.ask({"op": "mode", "mode": "locked", "reason": "closing"})["ok"]
    now = dt.datetime.now(dt.UTC)
    badge = encode_badge(StaffBadge("badges", "b-9", "s-2", "supervisor", now - dt.timedelta(hours=1),
                                    now + dt.timedelta(hours=8)), BADGE_KEY)  # fmt: skip
    venue.scan(badge)  # on a locked lane too: a staff login, never a visitor's decision
    status = daemon.wait_until(lambda s: s["lane"]["staff_session"] is not None)
    assert status["lane"]["staff_session"]["by"] == "badge:b-9"
    assert status["lane"]["staff_session"]["role"] == "supervisor"
    assert status["lane"]["last_decisions"] == []
    assert venue.ask({"op": "mode", "mode": "normal", "reason": "open"})["ok"]

    venue.scan("KID")
    attention = _last_decision(daemon, 1, "child")
    daemon.wait_until(lambda s: s["lane"]["attention"] == [attention])
    venue.scan("ONE")  # the next read does not cancel it
    _pass(venue, daemon, 1)
    daemon.wait_until(lambda s: s["lane"]["attention"] == [], timeout=5)
    late = venue.ask({"op": "confirm", "decision": attention, "login": STEWARD})
    assert not late["ok"] and "confirmed or expired" in late["error"]
    assert daemon.stop() == 0
    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
    (expired,) = [e for e in journal if e.type == "attention.expired"]
    assert expired.body["decision"] == attention and expired.entitlement_id == "t-kid"
    (login,) = [e for e in journal if e.type == "staff.login"]
    assert (login.body["staff"], login.body["role"], login.body["mode"]) == ("badge:b-9", "supervisor", "locked")
    assert not [e for e in journal if e.type in ("refusal", "attention") and e.body.get("reference") == badge]
