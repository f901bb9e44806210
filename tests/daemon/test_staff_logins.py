"""Staff logins and typed codes through the control socket of a real `gate run` process: wrong PINs
journaled and counted for the whole device, the lock, the break-glass PIN, and a code typed by
staff decided as a read and journaled with who typed it."""

from __future__ import annotations

from gate.cache import Ledger
from gate.staff import hash_pin
from tests.daemon.conftest import Start, Venue, wait_ready
from tests.display.consoles import STEWARD, badge, import_staff

GLASS = "97531"


def test_wrong_pins_on_the_control_socket_are_journaled_and_lock_pin_entry_on_the_device(
    venue: Venue, start_daemon: Start
) -> None:
    import_staff(venue)
    venue.write_config(staff={"pin_attempts": 3, "pin_lockout_s": 30, "break_glass_pin": hash_pin(GLASS)})
    daemon = start_daemon()
    wait_ready(daemon)
    wrong = venue.ask({"op": "status", "login": {"staff": "s-1", "pin": "1111"}})
    assert wrong == {"ok": False, "error": "wrong staff id or PIN"}
    # The break-glass PIN logs in a supervisor, journaled as such; a right PIN starts the count over.
    glass = venue.ask({"op": "mode", "mode": "locked", "reason": "no staff records", "login": {
        "staff": "break-glass", "pin": GLASS}})  # fmt: skip
    assert glass["ok"], glass
    for staff in ("s-1", "s-2", "break-glass"):  # three ids, one device: the third wrong PIN locks
        answer = venue.ask({"op": "status", "login": {"staff": staff, "pin": "0000"}})
        assert not answer["ok"]
    assert answer["error"] == "too many wrong PINs: PIN entry is locked for 30 s (a staff badge still logs in)"
    steward = venue.ask({"op": "status", "login": {"staff": STEWARD[0], "pin": STEWARD[1]}})
    assert not steward["ok"] and "locked" in steward["error"]
    assert venue.ask({"op": "status", "login": {"badge": badge()}})["ok"]  # a badge still logs in
    assert daemon.stop() == 0

    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
    refused = [(e.lane, e.body["via"], e.body["staff_id"], e.reason)
               for e in journal if e.type == "staff.login_refused"]  # fmt: skip
    assert refused == [
        ("l1", "pin", "s-1", "wrong_pin"), ("l1", "pin", "s-1", "wrong_pin"), ("l1", "pin", "s-2", "wrong_pin"),
        ("l1", "pin", "break-glass", "wrong_pin"), ("l1", "pin", "s-1", "pin_locked"),
    ]  # fmt: skip
    (lock,) = [e for e in journal if e.type == "staff.pin_lockout"]
    assert (lock.body["attempts"], lock.body["seconds"], lock.body["staff_id"]) == (3, 30.0, "break-glass")
    (login,) = [e for e in journal if e.type == "staff.login"]
    assert (login.body["via"], login.body["staff"], login.body["role"]) == ("break_glass", "break-glass", "supervisor")
    (mode,) = [e for e in journal if e.type == "staff.mode"]
    assert mode.body["staff"] == "break-glass"
    bodies = str([e.body for e in journal])
    assert GLASS not in bodies and "0000" not in bodies and "1111" not in bodies  # never the digits
    assert "1111" not in daemon.log and "0000" not in daemon.log


def test_a_typed_code_is_decided_as_a_read_and_journaled_with_who_typed_it(venue: Venue, start_daemon: Start) -> None:
    import_staff(venue)
    daemon = start_daemon()
    wait_ready(daemon)
    typed = venue.ask({"op": "typed", "reference": " one ", "login": {"staff": STEWARD[0], "pin": STEWARD[1]}})
    assert typed["ok"] and typed["decided"]["decision"]["reason"] == "ok", typed
    # The same road as a read: held, the turnstile opens, the passage commits.
    daemon.wait_until(lambda s: s["lane"]["passage"] is not None)
    assert venue.ask({"op": "sim_passage"})["ok"]
    daemon.wait_until(lambda s: [p["outcome"] for p in s["lane"]["last_passages"]] == ["committed"])
    again = venue.ask({"op": "typed", "reference": "ONE"})
    assert again["ok"] and again["decided"]["decision"]["reason"] == "already_used"
    no_badge = venue.ask({"op": "typed", "reference": badge()})
    assert no_badge["error"] == "a staff badge logs in at a reader; it is never typed as a visitor's code"
    assert daemon.stop() == 0

    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
    rows = [(e.body["staff"], e.body["reference"], e.reason, e.entitlement_id) for e in journal
            if e.type == "staff.typed"]  # fmt: skip
    assert rows[0] == ("pin:s-1", "ONE", "ok", "t-one")
    assert rows[1][1:] == ("ONE", "already_used", "t-one") and rows[1][0].startswith("unix:")
    (first, second) = [e for e in journal if e.type == "staff.typed"]
    committed = [e.redemption_id for e in journal if e.type == "redemption.committed"]
    assert first.body["decision"] == first.body["redemption"] == committed[0]
    refusal = [e.id for e in journal if e.type == "refusal"]
    assert second.body["decision"] == refusal[-1]
    assert not [e for e in journal if e.type in ("staff.login", "staff.login_refused")]
