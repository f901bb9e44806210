"""Lane modes, the fire loop, staff actions and what survives a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from gate.point import RESTART_WHY, LaneMode
from gate.point.events import DecisionMade, OutputsChanged, PassageStep, TurnstileAlarm
from gate.reasons import Reason, Verdict
from gate.turnstile.mock import rotate

from .conftest import (
    ALARM,
    AMBER,
    ENTRY_RELAY,
    ENTRY_SENSOR,
    EXIT_RELAY,
    FIRE,
    GREEN,
    LOCK,
    NOON,
    RED,
    Rig,
    drained,
    make_rig,
    read,
    until,
)

PROMPT_S = 0.05


def test_fire_loop_opened_mid_passage_frees_every_way_and_ends_the_passage(rig: Rig) -> None:
    entry, exit_relay, fire = rig.pin(ENTRY_RELAY), rig.pin(EXIT_RELAY), rig.pin(FIRE)

    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            assert (await lane.handle(read("TRIO"))).admitted == 3
            await until(lambda: entry.state)
            await rotate(rig.pin(ENTRY_SENSOR), hold_s=0.02)
            await asyncio.sleep(0.15)  # the first pulse is over
            assert not entry.state
            t0 = time.monotonic()
            fire.drive_high()  # the fire panel opens the loop
            await until(lambda: entry.state and exit_relay.state)
            freed = max(entry.first_change(True, t0) or 0, exit_relay.first_change(True, t0) or 0)
            assert freed - t0 < PROMPT_S
            await lane.settle()
            assert lane.mode is LaneMode.EMERGENCY and lane.fire_alarm
            assert lane.status().staff_mode is LaneMode.NORMAL
            assert rig.pin(GREEN).state and rig.pin(AMBER).state
            (result,) = [e.result for e in drained(events) if isinstance(e, PassageStep) and e.result is not None]
            assert (result.passed, result.committed, result.why) == (1, 1, "fire alarm")
            # Still open well past any pulse: held, not pulsed.
            await asyncio.sleep(0.3)
            assert entry.state and exit_relay.state
            # Reads are still decided and journaled while the lane is open.
            assert (await lane.handle(read("SINGLE"))).admits
            # The loop closes: after fire_clear_s the lane is back in its mode, relays closed.
            t1 = time.monotonic()
            fire.drive_low()
            await until(lambda: not lane.fire_alarm)
            assert time.monotonic() - t1 >= 0.1
            assert lane.status().mode is LaneMode.NORMAL
            assert not exit_relay.state
            await lane.settle()

    asyncio.run(scenario())
    assert [e.type for e in rig.journal() if e.type.startswith("fire.")] == ["fire.alarm", "fire.clear"]
    assert rig.journal("redemption.committed")[0].body["passed"] == 1


def test_a_fire_loop_open_at_start_starts_in_emergency(rig: Rig) -> None:
    rig.pin(FIRE).drive_high()

    async def scenario() -> None:
        async with rig.lane() as lane:
            assert lane.mode is LaneMode.EMERGENCY
            assert rig.pin(ENTRY_RELAY).state and rig.pin(EXIT_RELAY).state

    asyncio.run(scenario())
    assert [e.type for e in rig.journal("fire.alarm")] == ["fire.alarm"]


def test_a_flapping_fire_loop_clears_only_once_steady(rig: Rig) -> None:
    fire = rig.pin(FIRE)

    async def scenario() -> None:
        async with rig.lane() as lane:
            fire.drive_high()
            await until(lambda: lane.fire_alarm)
            for _ in range(3):  # closes for less than fire_clear_s each time
                fire.drive_low()
                await asyncio.sleep(0.04)
                fire.drive_high()
                await asyncio.sleep(0.01)
            assert lane.fire_alarm
            fire.drive_low()
            await until(lambda: not lane.fire_alarm)

    asyncio.run(scenario())


def test_modes_apply_to_outputs_and_the_last_one_set_wins_after_a_restart(rig: Rig) -> None:
    entry, lock = rig.pin(ENTRY_RELAY), rig.pin(LOCK)

    async def first_run() -> None:
        async with rig.lane() as lane:
            assert lane.mode is LaneMode.NORMAL and not lock.state
            await lane.set_mode(LaneMode.FREE, reason="concert crowd", staff="badge 7")
            assert entry.state and rig.pin(EXIT_RELAY).state and rig.pin(GREEN).state
            await lane.set_mode(LaneMode.LOCKED, reason="cleaning", staff="badge 7")
            assert not entry.state and lock.state and rig.pin(RED).state

    async def second_run() -> None:
        async with rig.lane() as lane:
            status = lane.status()
            assert (status.mode, status.mode_reason) == (LaneMode.LOCKED, "cleaning")
            assert lock.state
            decision = await lane.handle(read("SINGLE"))
            assert (decision.verdict, decision.reason, dict(decision.params)) == (
                Verdict.DENY, Reason.LANE_CLOSED, {"mode": "locked"},
            )  # fmt: skip
            assert rig.ledger.open_holds() == []
            await lane.set_mode(LaneMode.OUT_OF_ORDER, reason="arm jammed")
            assert (await lane.handle(read("SINGLE"))).params == {"mode": "out_of_order"}
            await lane.set_mode(LaneMode.NORMAL)
            assert not lock.state
            assert (await lane.handle(read("SINGLE"))).admits  # nothing was consumed while closed
            await lane.settle()

    asyncio.run(first_run())
    asyncio.run(second_run())
    modes = [(e.body["previous"], e.body["mode"], e.body["staff"]) for e in rig.journal("staff.mode")]
    assert modes == [
        ("normal", "free", "badge 7"), ("free", "locked", "badge 7"), ("locked", "out_of_order", None),
        ("out_of_order", "normal", None),
    ]  # fmt: skip
    assert [e.reason for e in rig.journal("refusal")] == ["lane_closed", "lane_closed"]


def test_first_mode_comes_from_the_config_until_a_mode_is_set(tmp_path: Path) -> None:
    for rig in make_rig(tmp_path, first_mode="free"):

        async def scenario(rig: Rig = rig) -> None:
            async with rig.lane() as lane:
                assert lane.mode is LaneMode.FREE
                assert rig.pin(ENTRY_RELAY).state
                # Reads are decided and journaled; the relay just stays open.
                assert (await lane.handle(read("SINGLE"))).admits
                await rotate(rig.pin(ENTRY_SENSOR), hold_s=0.01)
                await lane.settle()
                assert rig.pin(ENTRY_RELAY).state

        asyncio.run(scenario())
        assert rig.journal("redemption.committed")[0].entitlement_id == "single"


def test_locking_mid_passage_ends_it_with_what_passed(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane:
            await lane.handle(read("TRIO"))
            await until(lambda: rig.pin(ENTRY_RELAY).state)
            await rotate(rig.pin(ENTRY_SENSOR), hold_s=0.01)
            await lane.set_mode(LaneMode.LOCKED, reason="incident")
            await lane.settle()
            assert lane.status().last_passages[-1].why == "lane locked"

    asyncio.run(scenario())
    assert rig.journal("redemption.committed")[0].body["passed"] == 1


def test_open_once_is_journaled_before_the_relay_pulses(rig: Rig) -> None:
    relay = rig.pin(ENTRY_RELAY)

    async def scenario() -> None:
        async with rig.lane() as lane:
            t0 = time.monotonic()
            await lane.open_once(reason="lost ticket", staff="badge 12")
            assert [e.body["reason"] for e in rig.journal("staff.open_once")] == ["lost ticket"]
            await until(lambda: relay.state)
            assert (relay.first_change(True, t0) or 0) - t0 < PROMPT_S
            await rotate(rig.pin(ENTRY_SENSOR), hold_s=0.01)
            await lane.settle()
            assert lane.status().last_passages[-1].outcome == "open_once"
            assert lane.status().unexpected_passages == 0

    asyncio.run(scenario())
    (event,) = rig.journal("staff.open_once")
    assert event.body["staff"] == "badge 12" and event.body["direction"] == "entry"
    assert rig.journal("redemption.committed") == []


def test_the_turnstile_alarm_is_logged_and_reported(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            rig.pin(ALARM).drive_low()
            await until(lambda: lane.status().alarms == 1)
            assert rig.pin(RED).state
            assert [e.detail for e in drained(events) if isinstance(e, TurnstileAlarm)] == ["forced rotation"]
            rig.pin(ALARM).drive_high()

    asyncio.run(scenario())
    assert len(rig.journal("lane.alarm")) == 1


def test_a_hold_left_by_a_crash_is_released_at_the_next_start(rig: Rig) -> None:
    # The daemon died after holding (and opening) but before the sensor confirmed anything.
    held = rig.engine.admit("TRIO", lane="l1", at=NOON)
    assert held.redemption is not None and rig.ledger.open_holds()

    async def scenario() -> None:
        async with rig.lane() as lane:
            (report,) = lane.status().restart_holds
            assert (report.redemption, report.entitlement_id, report.admitted, report.outcome) == (
                held.redemption, "trio", 3, "released",
            )  # fmt: skip
            assert rig.ledger.open_holds() == []
            # The visitor kept the credit: the code admits again.
            assert (await lane.handle(read("TRIO"))).admitted == 3
            await lane.settle()

    asyncio.run(scenario())
    first = rig.journal("redemption.released")[0]
    assert (first.redemption_id, first.body["why"]) == (held.redemption, RESTART_WHY)


def test_events_and_status_never_carry_a_holder_name(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            await lane.handle(read("SINGLE"))
            await lane.settle()
            kinds = {type(e) for e in drained(events)}
            assert {DecisionMade, PassageStep, OutputsChanged} <= kinds
            record = lane.status().last_decisions[-1]
            assert not hasattr(record, "holder")
            assert (record.verdict, record.reason, record.entitlement_id) == ("admit", "ok", "single")

    asyncio.run(scenario())
