"""What the daemon does for each command of the vocabulary (gate.point.commands), once allowed.

The control server has validated the request and checked its audience; here each command
becomes one call on the decision point (or, for the test kit, on the turnstile's mock pins),
and its answer a JSON object.
"""

from __future__ import annotations

from typing import Any

from gate.daemon.control import to_json
from gate.engine import Outcome
from gate.errors import GateError
from gate.point import DecisionPoint
from gate.point.commands import (
    Actor,
    BadgeLogin,
    Command,
    ConfirmAttention,
    CorrectOccupancy,
    KioskCancel,
    KioskChoose,
    KioskConfirm,
    KioskMoreTime,
    KioskSession,
    Lookup,
    OpenOnce,
    Override,
    PinLogin,
    SetMode,
    SimulateAlarm,
    SimulateFireLoop,
    SimulatePassage,
    TypeReference,
    Void,
)
from gate.turnstile import Turnstile
from gate.turnstile.kit import TestKit


async def execute(point: DecisionPoint, lane: str, turnstile: Turnstile | None, command: Command,
                  actor: Actor) -> dict[str, Any] | None:  # fmt: skip
    """The answer's fields; None for a command whose answer is the daemon's status."""
    by = actor.by
    if isinstance(command, SetMode):
        await point.set_mode(lane, command.mode, reason=command.reason, by=by)
        return None
    if isinstance(command, OpenOnce):
        await point.open_once(lane, direction=command.direction, reason=command.reason, by=by)
        return None
    if isinstance(command, Lookup):
        result = await point.lookup(lane, command.reference, by=by)
        decision = result.outcome.decision
        return {"lookup": {
            "decision": to_json(decision), "reference": result.outcome.reference,
            "entitlement": to_json(result.entitlement), "recent_uses": [u._asdict() for u in result.recent_uses],
            "journal_id": result.journal_id,
        }}  # fmt: skip
    if isinstance(command, CorrectOccupancy):
        previous, now = await point.correct_occupancy(lane, command.count, reason=command.reason, by=by)
        return {"occupancy": {"previous": previous, "count": now}}
    if isinstance(command, Override):
        outcome = await point.override(lane, command.decision, reason=command.reason, by=by, confirm=command.confirm)
        return {"decided": _decided(outcome)}
    if isinstance(command, ConfirmAttention):
        outcome = await point.confirm_attention(lane, command.decision, reason=command.reason, by=by)
        return {"decided": _decided(outcome)}
    if isinstance(command, TypeReference):
        outcome = await point.typed(lane, command.reference, direction=command.direction, by=by)
        return {"decided": _decided(outcome)}
    if isinstance(command, Void):
        voided = await point.void(lane, command.redemption, reason=command.reason, by=by)
        return {"void": {"journal_id": voided.journal_id, "redemption": command.redemption,
                         "entitlement_id": voided.entitlement_id, "uses": len(voided.uses),
                         "admission_withdrawn": voided.admission}}  # fmt: skip
    if isinstance(command, KioskSession):
        return {"session": to_json(point.kiosk_session(lane))}
    if isinstance(command, KioskChoose):
        view = await point.kiosk_choose(lane, command.session, performance=command.performance, items=command.items)
        return {"session": to_json(view)}
    if isinstance(command, KioskConfirm):
        return {"session": to_json(await point.kiosk_confirm(lane, command.session))}
    if isinstance(command, KioskCancel):
        return {"session": to_json(await point.kiosk_cancel(lane, command.session))}
    if isinstance(command, KioskMoreTime):
        return {"session": to_json(await point.kiosk_touch(lane, command.session))}
    if isinstance(command, SimulatePassage | SimulateFireLoop | SimulateAlarm):
        if turnstile is None:
            raise GateError(f"{command.name}: lane {lane} has no turnstile (a kiosk)")
        kit = TestKit(turnstile)
        if isinstance(command, SimulatePassage):
            await kit.passage(command.direction)
        elif isinstance(command, SimulateFireLoop):
            kit.fire_loop(command.open)
        else:
            await kit.alarm()
        return None
    return None  # status


def _decided(outcome: Outcome) -> dict[str, Any]:
    """A staff act's decision, as the answer gives it: staff see why when it refuses."""
    return {"decision": to_json(outcome.decision), "decision_id": outcome.decision_id,
            "redemption": outcome.redemption, "reference": outcome.reference}  # fmt: skip


def sync_status(point: DecisionPoint) -> dict[str, Any] | None:
    """The sync process's state as the point last heard it (None without one), for a status."""
    return None if point.sync is None else {k: v for k, v in to_json(point.sync).items() if k != "monotonic"}


class LaneControls:
    """One lane's login and commands without a daemon around it (the demo's screens): the same
    acts as the control socket, on the point and the lane's turnstile."""

    def __init__(self, point: DecisionPoint, lane: str, turnstile: Turnstile | None) -> None:
        self._point = point
        self._lane = lane
        self._turnstile = turnstile

    def status(self) -> dict[str, Any]:
        return {"lane": to_json(self._point.status(self._lane)), "sync": sync_status(self._point)}

    async def login(self, login: PinLogin | BadgeLogin) -> Actor:
        return await self._point.login(login)

    async def execute(self, command: Command, actor: Actor) -> dict[str, Any]:
        answer = await execute(self._point, self._lane, self._turnstile, command, actor)
        return {"status": self.status()} if answer is None else answer
