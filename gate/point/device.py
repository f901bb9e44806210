"""What a lane's device offers its decision point: the seam between deciding and the turnstile.

The decision point knows nothing of GPIO. A lane with a turnstile plugs one in
(`DecisionPoint.plug`); a kiosk plugs in nothing. The point calls these methods on the event
loop, inside its decision lock, and none of them may wait: a passage runs in the device's
own tasks and comes back through the point's public API (`commit`, `release`, `fire`, `alarm`,
`emit`).
"""

from __future__ import annotations

from typing import Protocol

from gate.decision import Decision
from gate.engine import Outcome
from gate.point.model import DeviceReport, LaneMode
from gate.records import Direction


class LaneDevice(Protocol):
    @property
    def directions(self) -> tuple[Direction, ...]:
        """The directions the device has wiring for."""
        ...

    def admitted(self, outcome: Outcome, direction: Direction) -> None:
        """An admit with its held redemption: let the persons admitted through, then commit or release."""

    def refused(self, decision: Decision) -> None:
        """A refusal or an attention verdict: say so (lamps, buzzer); nothing opens."""

    def let_one_through(self, direction: Direction) -> None:
        """A staff "open once", already journaled: one person may pass, nothing to commit."""

    def staff_called(self) -> None:
        """A visitor called staff: the amber lamp, where one is wired (no buzzer: nothing was decided)."""

    def mode_changed(self, mode: LaneMode) -> None:
        """The mode in force changed (staff set it): outputs follow; a closed lane ends its passage."""

    def report(self) -> DeviceReport:
        """The device's part of the lane's status."""
        ...

    async def settle(self) -> None:
        """Return once no passage is open or waiting and each finished one is in the ledger."""
