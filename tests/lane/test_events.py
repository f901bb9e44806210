"""The decision point's events: typed, carrying the Decision, bounded per subscriber, never slowing a lane."""

from __future__ import annotations

import asyncio

from gate.point.events import DecisionMade, Missed, PassageStep
from gate.reasons import Reason
from gate.text import render
from gate.turnstile.mock import rotate
from tests.lane.conftest import ENTRY_SENSOR, PARIS, Rig, read


def test_a_subscriber_renders_the_visitors_text_from_an_event(rig: Rig) -> None:
    async def scenario() -> list[str]:
        async with rig.lane() as lane, lane.point.subscribe() as events:
            await lane.handle(read("TRIO"))
            # The relay pulses before anybody is told: output events come first, then the decision.
            steps = []
            while not isinstance(made := await events.get(timeout=2), DecisionMade):
                if isinstance(made, PassageStep):
                    steps.append(made.step)
            assert made.decision_id is not None and made.decision_id == made.redemption
            assert made.reference == "TRIO" and made.decision.admitted == 3
            for _ in range(3):
                await rotate(rig.pin(ENTRY_SENSOR))
            while not (steps and steps[-1] == "committed"):
                event = await events.get(timeout=2)
                if isinstance(event, PassageStep):
                    steps.append(event.step)
            assert steps.count("passed") == 3 and steps.count("unlocked") == 3
            return [render(made.decision, audience="visitor", language=lang, tz=PARIS, now=made.at)
                    for lang in ("en", "fr", "de")]  # fmt: skip

    english, french, german = asyncio.run(scenario())
    assert "3" in english and "3" in french and "3" in german
    assert len({english, french, german}) == 3


def test_a_subscriber_that_never_reads_does_not_stop_the_lane_and_is_told_what_it_missed(rig: Rig) -> None:
    async def scenario() -> None:
        async with rig.lane() as lane:
            asleep = lane.point.subscribe(size=5)  # never read while the lane works
            for _ in range(20):
                decision = await lane.handle(read("NOBODY"))
                assert decision.reason is Reason.UNKNOWN_CODE
            first = asleep.get_nowait()
            # 20 decisions, and the red lamp and buzzer switching for each: all but the last 5 dropped.
            assert isinstance(first, Missed) and first.count >= 15
            rest = asleep.drain()
            assert len(rest) == 5 and any(isinstance(e, DecisionMade) for e in rest)
            asleep.close()

    asyncio.run(scenario())
    assert len(rig.journal("refusal")) == 20  # every read was decided and journaled
