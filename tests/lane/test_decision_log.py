"""The lane's log line for each decision: written once, after the lane has answered, ids only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from gate.point import LaneMode

from .conftest import ENTRY_RELAY, GREEN, RED, Rig, read


class _Lines(logging.Handler):
    """Keeps each decision line with what the lane's outputs showed when it was written."""

    def __init__(self, rig: Rig) -> None:
        super().__init__(logging.INFO)
        self.rig = rig
        self.lines: list[tuple[str, bool, bool, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("decision "):
            relay, green, red = (bool(self.rig.pin(pin).state) for pin in (ENTRY_RELAY, GREEN, RED))
            self.lines.append((message, relay, green, red))


@pytest.fixture
def lines(rig: Rig) -> Iterator[_Lines]:
    handler = _Lines(rig)
    logger = logging.getLogger("gate.engine")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _handle(rig: Rig, code: str, *, mode: LaneMode | None = None) -> None:
    """One read on a running lane (set to `mode` first), then the lane stops."""

    async def scenario() -> None:
        async with rig.lane() as lane:
            if mode is not None:
                await lane.set_mode(mode, reason="cleaning")
            await lane.handle(read(code))

    asyncio.run(scenario())


def test_an_admit_is_logged_once_after_the_relay_has_pulsed(rig: Rig, lines: _Lines) -> None:
    _handle(rig, "SINGLE")
    ((message, relay, green, _red),) = lines.lines
    # The visitor was not kept waiting for the line: the arm was free and the lamp green first.
    assert relay and green
    (held,) = rig.journal("redemption.released")  # no passage before the lane stopped
    assert message == (
        f"decision lane=l1 verdict=admit reason=ok entitlement=single admitted=1 redemption={held.redemption_id}"
    )


def test_a_refusal_is_logged_once_after_the_red_lamp(rig: Rig, lines: _Lines) -> None:
    _handle(rig, "NO-SUCH-CODE")
    ((message, relay, green, red),) = lines.lines
    assert red and not relay and not green
    assert message == "decision lane=l1 verdict=deny reason=unknown_code entitlement=- admitted=0 redemption=-"


def test_a_read_at_a_closed_lane_is_logged_too(rig: Rig, lines: _Lines) -> None:
    _handle(rig, "SINGLE", mode=LaneMode.LOCKED)
    ((message, relay, _green, _red),) = lines.lines
    assert not relay
    assert message == "decision lane=l1 verdict=deny reason=lane_closed entitlement=single admitted=0 redemption=-"
