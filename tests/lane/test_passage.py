"""The two-phase passage on mock pins driven like wiring: relay times, sensor counts, commits."""

from __future__ import annotations

import asyncio
import time

import pytest

from gate.engine import Outcome
from gate.point import DecisionPoint, LaneMode, PassageResult, PointStopped
from gate.point.events import Event, PassageStep, TurnstileAlarm
from gate.reasons import Reason, Verdict
from gate.scanner.read import Read
from gate.turnstile import Turnstile
from gate.turnstile.mock import rotate

from .conftest import (
    ACCESSIBLE_S,
    AMBER,
    BUZZER,
    ENTRY_RELAY,
    ENTRY_SENSOR,
    EXIT_RELAY,
    EXIT_SENSOR,
    GREEN,
    NOON,
    PULSE_S,
    RED,
    TIMEOUT_S,
    Rig,
    drained,
    read,
    until,
)

# Scheduling on a busy 2-core machine: generous bounds, still far below what a visitor notices.
PROMPT_S = 0.05
SLACK_S = 0.05


def _results(events: list[Event]) -> list[PassageResult]:
    return [e.result for e in events if isinstance(e, PassageStep) and e.result is not None]


def test_admit_then_passage_commits(rig: Rig) -> None:
    relay, sensor = rig.pin(ENTRY_RELAY), rig.pin(ENTRY_SENSOR)

    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            t0 = time.monotonic()
            decision = await lane.handle(read("SINGLE"))
            assert (decision.verdict, decision.admitted) == (Verdict.ADMIT, 1)
            await until(lambda: relay.state)
            on = relay.first_change(True, t0)
            assert on is not None and on - t0 < PROMPT_S
            assert rig.pin(GREEN).state and not rig.pin(RED).state
            assert lane.status().passage is not None and lane.status().passage.expected == 1  # type: ignore[union-attr]
            # The held redemption counts as used: the same code again is "in progress".
            again = await lane.handle(read("SINGLE"))
            assert again.reason is Reason.IN_PROGRESS
            await asyncio.sleep(0.15)
            await rotate(sensor)
            await lane.settle()
            (result,) = _results(drained(events))
            assert (result.outcome, result.passed, result.committed, result.why) == ("committed", 1, 1, "all passed")
            assert 0.15 < result.seconds < 0.15 + 0.05 + 2 * SLACK_S
        # One pulse of about pulse_ms.
        ((start, end),) = relay.active_spans(t0)
        assert end is not None and PULSE_S - 0.01 < end - start < PULSE_S + SLACK_S

    asyncio.run(scenario())
    (committed,) = rig.journal("redemption.committed")
    assert committed.entitlement_id == "single" and committed.body["passed"] == 1
    assert [u.persons for u in rig.ledger.activity("single")] == [1]
    assert rig.ledger.open_holds() == []


def test_no_passage_releases_after_the_timeout_and_consumes_nothing(rig: Rig) -> None:
    relay = rig.pin(ENTRY_RELAY)

    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            t0 = time.monotonic()
            assert (await lane.handle(read("SINGLE"))).admits
            await lane.settle()
            released = time.monotonic()
            (result,) = _results(drained(events))
            assert (result.outcome, result.passed, result.why) == ("released", 0, "timeout")
            assert TIMEOUT_S - 0.01 < released - t0 < TIMEOUT_S + 2 * SLACK_S
            assert not relay.state
            # The visitor turned away: the single-use code admits again.
            assert (await lane.handle(read("SINGLE"))).admits
            await lane.settle()

    asyncio.run(scenario())
    released = rig.journal("redemption.released")
    assert len(released) == 2 and released[0].body["why"] == "no passage"
    assert rig.ledger.activity("single") == []


def test_a_party_of_three_with_two_passages_commits_two(rig: Rig) -> None:
    relay, sensor = rig.pin(ENTRY_RELAY), rig.pin(ENTRY_SENSOR)

    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            t0 = time.monotonic()
            decision = await lane.handle(read("TRIO"))
            assert decision.admitted == 3
            for _ in range(2):
                await asyncio.sleep(0.12)
                await rotate(sensor, hold_s=0.03)
            await lane.settle()
            (result,) = _results(drained(events))
            assert (result.admitted, result.passed, result.committed, result.why) == (3, 2, 2, "timeout")
        # One pulse per person: two passed, the third pulse timed out.
        spans = relay.active_spans(t0)
        assert len(spans) == 3
        assert all(e is not None and PULSE_S - 0.01 < e - s < PULSE_S + SLACK_S for s, e in spans)

    asyncio.run(scenario())
    (committed,) = rig.journal("redemption.committed")
    assert committed.body["passed"] == 2
    assert sum(u.persons for u in rig.ledger.activity("trio")) == 2


def test_sensor_bounce_is_one_passage(rig: Rig) -> None:
    sensor = rig.pin(ENTRY_SENSOR)

    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            await lane.handle(read("TRIO"))
            await asyncio.sleep(0.02)
            for _ in range(3):  # a contact bouncing within 1 ms: one arm movement
                sensor.drive_low()
                sensor.drive_high()
            await lane.settle()
            (result,) = _results(drained(events))
            assert result.passed == 1

    asyncio.run(scenario())


def test_exit_uses_the_exit_relay_and_sensor(rig: Rig) -> None:
    entry, exit_relay = rig.pin(ENTRY_RELAY), rig.pin(EXIT_RELAY)

    async def scenario() -> None:
        async with rig.lane() as lane:
            t0 = time.monotonic()
            assert (await lane.handle(read("SINGLE"))).admits
            await until(lambda: entry.state)
            await rotate(rig.pin(ENTRY_SENSOR))
            await lane.settle()
            decision = await lane.handle(read("SINGLE", "exit"))
            assert decision.reason is Reason.EXIT
            await until(lambda: exit_relay.state)
            await rotate(rig.pin(EXIT_SENSOR))
            await lane.settle()
            assert len(entry.active_spans(t0)) == 1 and len(exit_relay.active_spans(t0)) == 1

    asyncio.run(scenario())
    assert [e.body["direction"] for e in rig.journal("redemption.committed")] == ["entry", "exit"]


def test_a_second_admit_waits_for_the_first_passage(rig: Rig) -> None:
    relay, sensor = rig.pin(ENTRY_RELAY), rig.pin(ENTRY_SENSOR)

    async def scenario() -> None:
        async with rig.lane() as lane:
            t0 = time.monotonic()
            assert (await lane.handle(read("SINGLE"))).admits
            assert (await lane.handle(read("OTHER"))).admits  # decided and held at once
            status = lane.status()
            assert status.passage is not None and status.passage.waiting == 1
            await asyncio.sleep(0.2)
            assert len(relay.active_spans(t0)) == 1  # the second has not pulsed yet
            passed = time.monotonic()
            await rotate(sensor, hold_s=0.02)
            await until(lambda: len(relay.active_spans(t0)) == 2)
            second = relay.active_spans(t0)[1][0]
            assert passed < second < passed + 0.02 + PROMPT_S
            await rotate(sensor, hold_s=0.02)
            await lane.settle()

    asyncio.run(scenario())
    assert sorted(e.entitlement_id or "" for e in rig.journal("redemption.committed")) == ["other", "single"]


def test_accessible_gets_the_longer_timeout_and_a_companion(rig: Rig) -> None:
    relay, sensor = rig.pin(ENTRY_RELAY), rig.pin(ENTRY_SENSOR)

    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            t0 = time.monotonic()
            assert (await lane.handle(read("ACCESS"))).admitted == 1
            await asyncio.sleep(TIMEOUT_S + 0.1)  # past the normal timeout: still open
            assert lane.status().passage is not None
            await rotate(sensor, hold_s=0.02)
            await asyncio.sleep(0.1)
            await rotate(sensor, hold_s=0.02)  # the companion
            await lane.settle()
            (result,) = _results(drained(events))
            assert (result.passed, result.committed, result.why) == (2, 1, "all passed")
            assert result.seconds > TIMEOUT_S
            assert len(relay.active_spans(t0)) == 2

    asyncio.run(scenario())
    (committed,) = rig.journal("redemption.committed")
    assert committed.body["passed"] == 1
    assert ACCESSIBLE_S > TIMEOUT_S


def test_deny_shows_red_and_never_touches_the_relay(rig: Rig) -> None:
    relay, red, buzzer = rig.pin(ENTRY_RELAY), rig.pin(RED), rig.pin(BUZZER)

    async def scenario() -> None:
        async with rig.lane() as lane:
            t0 = time.monotonic()
            decision = await lane.handle(read("NO-SUCH-CODE"))
            assert decision.reason is Reason.UNKNOWN_CODE
            lit = red.first_change(True, t0)
            assert lit is not None and lit - t0 < PROMPT_S
            assert not rig.pin(GREEN).state and not rig.pin(AMBER).state
            # The deny rhythm: two long beeps.
            await until(lambda: len(buzzer.active_spans(t0)) == 2 and buzzer.active_spans(t0)[1][1] is not None)
            spans = buzzer.active_spans(t0)
            assert all(e is not None and 0.4 - 0.01 < e - s < 0.4 + SLACK_S for s, e in spans)
            assert lane.status().passage is None
        assert relay.changes == [] or relay.active_spans(t0) == []

    asyncio.run(scenario())
    assert [e.reason for e in rig.journal("refusal")] == ["unknown_code"]


def test_attention_shows_amber_and_holds_nothing(rig: Rig) -> None:
    relay, amber = rig.pin(ENTRY_RELAY), rig.pin(AMBER)

    async def scenario() -> None:
        async with rig.lane() as lane:
            t0 = time.monotonic()
            decision = await lane.handle(read("CHECK"))
            assert (decision.verdict, decision.reason) == (Verdict.ATTENTION, Reason.ID_CHECK)
            assert amber.state and not rig.pin(RED).state and not rig.pin(GREEN).state
            assert rig.ledger.open_holds() == []
            await asyncio.sleep(0.05)
            assert relay.active_spans(t0) == [] and lane.status().passage is None

    asyncio.run(scenario())


def test_unexpected_passage_is_counted_and_reported(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane:
            events = lane.subscribe()
            await rotate(rig.pin(ENTRY_SENSOR), hold_s=0.01)
            await until(lambda: lane.status().unexpected_passages == 1)
            assert [e.detail for e in drained(events) if isinstance(e, TurnstileAlarm)] == ["unexpected entry passage"]

    asyncio.run(scenario())


@pytest.mark.parametrize("code", ["SINGLE"])
def test_shutdown_waits_for_the_passage_in_progress(rig: Rig, code: str) -> None:
    sensor = rig.pin(ENTRY_SENSOR)

    async def scenario() -> None:
        async with rig.lane() as lane:
            assert (await lane.handle(read(code))).admits
            assert (await lane.handle(read("OTHER"))).admits
            asyncio.get_running_loop().call_later(0.1, sensor.drive_low)
            t0 = time.monotonic()
        # The exit waited for the passage in progress; the one waiting was released.
        assert 0.1 - 0.01 < time.monotonic() - t0 < TIMEOUT_S
        assert lane.status().mode is LaneMode.NORMAL

    asyncio.run(scenario())
    assert [e.entitlement_id for e in rig.journal("redemption.committed")] == ["single"]
    (released,) = rig.journal("redemption.released")
    assert (released.entitlement_id, released.body["why"]) == ("other", "shutdown")
    assert rig.ledger.open_holds() == []


def test_active_low_relays_and_active_high_sensors(rig: Rig) -> None:
    assert rig.config.turnstile is not None
    turnstile = rig.config.turnstile.model_copy(
        update={"relay_active_high": False, "sensor_pull": "none", "sensor_active_low": False}
    )
    point = DecisionPoint(engine=rig.engine, lanes=["l1"], clock=lambda: NOON)
    lane = Turnstile(point=point, lane_id="l1", config=turnstile, pin_factory=rig.factory)
    relay, sensor = rig.pin(ENTRY_RELAY), rig.pin(ENTRY_SENSOR)

    async def decide(code: str) -> bool:
        outcome = await point.decide(Read(code, None, "test", "entry"), lane="l1")
        return isinstance(outcome, Outcome) and outcome.decision.admits

    async def scenario() -> None:
        with pytest.raises(PointStopped):
            await decide("SINGLE")
        async with point, lane:
            assert relay.state  # an active-low relay board at rest is held high
            t0 = time.monotonic()
            assert await decide("SINGLE")
            assert not relay.state
            await rotate(sensor, hold_s=0.02, active_low=False)
            await point.settle("l1")
            await until(lambda: relay.state)  # the pulse is over
            ((start, end),) = relay.active_spans(t0, active_high=False)
            assert end is not None and PULSE_S - 0.01 < end - start < PULSE_S + SLACK_S

    asyncio.run(scenario())
    assert rig.journal("redemption.committed")[0].body["passed"] == 1
