"""Staff acts and the test kit through the control socket of a real `gate run` process on mock pins."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.staff import hash_pin
from gate.turnstile.kit import NotMockPins, TestKit
from tests.daemon.conftest import Start, Venue, wait_ready

STEWARD = {"staff": "s-1", "pin": "2468"}


def _staff(venue: Venue) -> None:
    lines = venue.dir / "staff.jsonl"
    records = [
        {"type": "header", "format": "gate-ledger", "version": 1},
        {"type": "staff", "id": "s-1", "version": 1, "role": "steward", "name": "Ana B.", "pin": hash_pin("2468")},
    ]
    lines.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0




def test_staff_acts_with_their_audiences_land_in_the_journal(venue: Venue, start_daemon: Start) -> None:
    _staff(venue)
    daemon = start_daemon()
    wait_ready(daemon)

    # A steward looks a code up: nothing consumed, the lookup journaled under the PIN's name.
    found = venue.ask({"op": "lookup", "reference": "one", "login": STEWARD})
    assert found["ok"], found
    assert (found["lookup"]["decision"]["reason"], found["lookup"]["entitlement"]["id"]) == ("ok", "t-one")
    # A steward may open once, and may not switch the lane's mode or correct the occupancy.
    assert venue.ask({"op": "open", "reason": "lost ticket", "login": STEWARD})["ok"]
    refused = venue.ask({"op": "mode", "mode": "locked", "reason": "x", "login": STEWARD})
    assert refused == {"ok": False, "error": "mode: not allowed for a steward (allowed: supervisor)"}
    assert not venue.ask({"op": "occupancy", "count": 3, "reason": "x", "login": STEWARD})["ok"]
    wrong = venue.ask({"op": "open", "reason": "x", "login": {"staff": "s-1", "pin": "1111"}})
    assert wrong == {"ok": False, "error": "wrong staff id or PIN"}
    # The open-once passage is walked through with the test kit, from this process.
    assert venue.ask({"op": "sim_passage", "direction": "entry"})["ok"]
    daemon.wait_until(lambda s: [p["outcome"] for p in s["lane"]["last_passages"]] == ["open_once"])

    # The local user (a supervisor) corrects the occupancy to what they count, with the CLI.
    corrected = venue.gate("lane", "occupancy", "7", "--reason", "headcount")
    assert corrected.returncode == 0 and corrected.stdout.strip() == "occupancy: 0 -> 7", corrected.stderr
    # The CLI acts as a staff member with --staff, the PIN read from stdin when it is no terminal.
    looked = venue.gate("lane", "lookup", "ONE", "--staff", "s-1", stdin="2468\n")
    assert looked.returncode == 0 and looked.stdout.startswith("ONE: admit ok t-one (ticket)"), looked.stderr
    not_hers = venue.gate("lane", "occupancy", "1", "--reason", "x", "--staff", "s-1", stdin="2468\n")
    assert not_hers.returncode == 1
    assert "occupancy: not allowed for a steward (allowed: supervisor)" in not_hers.stderr

    # The looked-up code still admits; the kit turns the arm and the passage commits.
    venue.scan("ONE")
    daemon.wait_until(lambda s: s["lane"]["passage"] is not None)
    assert venue.ask({"op": "sim_passage"})["ok"]
    daemon.wait_until(lambda s: s["lane"]["last_passages"][-1]["outcome"] == "committed")
    assert daemon.stop() == 0

    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
        lookups = [e for e in journal if e.type == "lookup"]
        assert [(e.entitlement_id, e.body["staff"]) for e in lookups] == [("t-one", "pin:s-1")] * 2
        (opened,) = [e for e in journal if e.type == "staff.open_once"]
        assert opened.body["staff"] == "pin:s-1" and opened.body["reason"] == "lost ticket"
        (occupancy,) = [e for e in journal if e.type == "staff.occupancy"]
        assert (occupancy.body["previous"], occupancy.body["change"]) == (0, 7)
        assert occupancy.body["staff"].startswith("unix:")
        assert [e.entitlement_id for e in journal if e.type == "redemption.committed"] == ["t-one"]
        assert ledger.inside() == 8  # the correction, then one person in
        assert not [e for e in journal if e.type == "staff.mode"]  # the steward's mode change never happened


def test_the_test_kit_drives_the_fire_loop_and_the_alarm(venue: Venue, start_daemon: Start) -> None:
    text = venue.config.read_text().replace("[turnstile]\n", "[turnstile]\nfire_loop = 13\nalarm_input = 6\n"
                                            "fire_clear_s = 0.1\n")  # fmt: skip
    venue.config.write_text(text)
    daemon = start_daemon()
    wait_ready(daemon)
    # An unwired mock pin reads high on its pull-up, an open loop: the kit closes it, as a healthy panel would.
    assert venue.ask({"op": "sim_fire", "open": False})["ok"]
    daemon.wait_until(lambda s: not s["lane"]["fire_alarm"])
    assert venue.ask({"op": "sim_fire", "open": True})["ok"]
    daemon.wait_until(lambda s: s["lane"]["fire_alarm"] and s["lane"]["mode"] == "emergency")
    assert venue.ask({"op": "sim_fire", "open": False})["ok"]
    daemon.wait_until(lambda s: not s["lane"]["fire_alarm"] and s["lane"]["mode"] == "normal")
    assert venue.ask({"op": "sim_alarm"})["ok"]
    daemon.wait_until(lambda s: s["lane"]["alarms"] == 1)
    assert daemon.stop() == 0
    with Ledger.open(venue.ledger) as ledger:
        kinds = [e.type for e in ledger.journal() if e.type.startswith(("fire.", "lane.alarm"))]
    assert kinds[-3:] == ["fire.alarm", "fire.clear", "lane.alarm"]


def test_the_test_kit_is_refused_on_real_pins() -> None:
    class RealTurnstile:
        """What the kit sees of a turnstile on real pins: a factory that is not gpiozero's MockFactory."""

        pin_factory = object()
        config = SimpleNamespace(pin_factory="lgpio", fire_loop=13, alarm_input=6, sensor_active_low=True)

    kit = TestKit(RealTurnstile())  # type: ignore[arg-type]
    with pytest.raises(NotMockPins, match=r"mock pins only \(turnstile.pin_factory is 'lgpio'\): a real fire loop"):
        kit.fire_loop(True)
