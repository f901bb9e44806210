"""The one command vocabulary: typed models defined once, allow-listed per audience.

The control socket, the CLI (which builds its requests from these models) and the screens
(next) all speak it; nothing else reaches the decision point's staff acts and kiosk
sessions. Each command says which audiences may send it:

- visitor screen: nothing here but display preferences (the screens issue adds them);
- kiosk user: the kiosk commands, for the session of the code read at that kiosk only
  (no typed references, so nobody pages through other people's balances);
- steward: open once, confirm an attention verdict, look up a typed reference, decide a
  typed reference as a read (a code the reader cannot read), and the kiosk commands;
- supervisor: also override a refusal, void a redemption, the lane's mode and the
  occupancy correction;
- hub: signed remote commands (the sync issue).

Every staff command names who gave it (`Actor.by`): `pin:<staff>`, `badge:<credential>`,
`unix:<user>` for the local CLI, `hub:<key>`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gate.errors import GateError
from gate.point.model import LaneMode
from gate.records import Direction, Id


class Audience(enum.StrEnum):
    VISITOR = "visitor"
    KIOSK = "kiosk"
    STEWARD = "steward"
    SUPERVISOR = "supervisor"
    HUB = "hub"


STAFF = frozenset({Audience.STEWARD, Audience.SUPERVISOR})
SUPERVISORS = frozenset({Audience.SUPERVISOR})
AT_A_KIOSK = frozenset({Audience.KIOSK, Audience.STEWARD, Audience.SUPERVISOR})
FROM_THE_HUB = frozenset({Audience.HUB})  # signed remote commands, checked by gate sync (gate/sync/commands.py)
Reason = Annotated[str, Field(min_length=1, max_length=500, description="Why, as staff say it; journaled.")]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sends a command, and as which audience."""

    audience: Audience
    by: str  # pin:<staff>, badge:<credential>, unix:<user>, kiosk:<lane>, hub:<key>


class CommandRefused(GateError, PermissionError):
    """An audience not allowed this command: answered, journaled nowhere."""


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    audiences: ClassVar[frozenset[Audience]] = frozenset()

    @property
    def name(self) -> str:
        return str(getattr(self, "op", type(self).__name__))


class Status(Command):
    op: Literal["status"] = Field(description="The lane's and the daemon's state.")
    audiences = STAFF


class SetMode(Command):
    op: Literal["mode"] = Field(description="Switch the lane's mode.")
    mode: LaneMode = Field(description="normal, free, locked, out_of_order or emergency.")
    reason: Reason
    audiences = SUPERVISORS | FROM_THE_HUB


class OpenOnce(Command):
    op: Literal["open"] = Field(description="Let one person through once, without a read.")
    direction: Direction = Field(default="entry", description="entry or exit.")
    reason: Reason
    audiences = STAFF | FROM_THE_HUB


class Lookup(Command):
    op: Literal["lookup"] = Field(description="Status, validity, balance and recent uses of a code; consumes nothing.")
    reference: str = Field(min_length=1, max_length=512, description="The code, as printed or typed.")
    audiences = STAFF


class CorrectOccupancy(Command):
    op: Literal["occupancy"] = Field(description="Set the occupancy counter to the count staff see.")
    count: int = Field(ge=0, le=1_000_000, description="Persons inside now.")
    reason: Reason
    audiences = SUPERVISORS


class Override(Command):
    op: Literal["override"] = Field(description="Admit what a refusal at this lane refused; the turnstile opens.")
    decision: str = Field(min_length=1, max_length=64, description="The refused decision's id (its journal row).")
    reason: Reason
    confirm: bool = Field(default=False, description="Yes, admit again an entitlement admitted here a short while ago.")
    audiences = SUPERVISORS


class ConfirmAttention(Command):
    op: Literal["confirm"] = Field(description="Staff did an attention verdict's check (ID, child): decide again.")
    decision: str = Field(min_length=1, max_length=64, description="The attention verdict's decision id.")
    reason: Reason = "checked by staff"
    audiences = STAFF


class Void(Command):
    op: Literal["void"] = Field(description="Give a committed redemption's uses back (a voucher's admission too).")
    redemption: str = Field(min_length=1, max_length=64, description="The redemption's id.")
    reason: Reason
    audiences = SUPERVISORS


class TypeReference(Command):
    op: Literal["typed"] = Field(
        description="Decide a code staff type for a visitor whose code cannot be read, as if read at the lane."
    )
    reference: str = Field(min_length=1, max_length=512, description="The code, as printed.")
    direction: Direction = Field(default="entry", description="entry or exit.")
    audiences = STAFF


class KioskSession(Command):
    op: Literal["kiosk_session"] = Field(description="The kiosk's open session, with what its codes can do.")
    audiences = AT_A_KIOSK


class _InSession(Command):
    """A kiosk command: it names the open session, the only one its sender may act on."""

    session: str = Field(min_length=1, max_length=64, description="The open session's id.")
    audiences = AT_A_KIOSK


class KioskChoose(_InSession):
    op: Literal["kiosk_choose"] = Field(description="Hold the session's codes for a performance or items.")
    performance: Id | None = Field(default=None, description="The performance chosen (a voucher).")
    items: tuple[Id, ...] = Field(default=(), max_length=20, description="The products chosen (a membership).")


class KioskConfirm(_InSession):
    op: Literal["kiosk_confirm"] = Field(description="Commit what the session holds; the session ends.")


class KioskCancel(_InSession):
    op: Literal["kiosk_cancel"] = Field(description="Release what the session holds; the session ends.")


class KioskMoreTime(_InSession):
    op: Literal["kiosk_more_time"] = Field(description="Start the session's inactivity timer again.")


class SimulatePassage(Command):
    op: Literal["sim_passage"] = Field(description="Test kit: the passage sensor turns once (mock pins only).")
    direction: Direction = Field(default="entry", description="entry or exit.")
    audiences = STAFF


class SimulateFireLoop(Command):
    op: Literal["sim_fire"] = Field(description="Test kit: the fire loop opens or closes (mock pins only).")
    open: bool = Field(description="True: the fire panel opens its loop; false: it closes again.")
    audiences = STAFF


class SimulateAlarm(Command):
    op: Literal["sim_alarm"] = Field(description="Test kit: the turnstile reports a forced rotation (mock pins only).")
    audiences = STAFF


AnyCommand = (
    Status
    | SetMode
    | OpenOnce
    | Lookup
    | CorrectOccupancy
    | Override
    | ConfirmAttention
    | Void
    | TypeReference
    | KioskSession
    | KioskChoose
    | KioskConfirm
    | KioskCancel
    | KioskMoreTime
    | SimulatePassage
    | SimulateFireLoop
    | SimulateAlarm
)
COMMANDS: TypeAdapter[AnyCommand] = TypeAdapter(Annotated[AnyCommand, Field(discriminator="op")])


class PinLogin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    staff: Id = Field(description="The staff record's id.")
    pin: str = Field(min_length=1, max_length=32, description="The staff member's PIN.")


class BadgeLogin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    badge: str = Field(min_length=1, max_length=4096, description="A staff badge's text, as its code reads.")


LOGIN: TypeAdapter[PinLogin | BadgeLogin] = TypeAdapter(PinLogin | BadgeLogin)


def allow(command: Command, actor: Actor) -> None:
    """CommandRefused unless `actor`'s audience may send `command`."""
    if actor.audience not in command.audiences:
        # The hub is no role a person takes here: staff are told which of theirs may.
        allowed = ", ".join(sorted(a.value for a in command.audiences - FROM_THE_HUB)) or "nobody"
        raise CommandRefused(f"{command.name}: not allowed for a {actor.audience.value} (allowed: {allowed})")


def request_of(command: Command) -> dict[str, object]:
    """The JSON object a client sends for `command` (what the CLI puts on the control socket)."""
    return command.model_dump(mode="json", exclude_defaults=False)
