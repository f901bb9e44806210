"""Every sync payload as a model: versioned (`v`), strict, bounded; what does not validate is dropped.

A payload from the network is parsed here before anything uses it (`parse`): JSON of at most
`MAX_PAYLOAD` bytes, of a version this gate reads, every field typed and bounded. Anything else
is a `PayloadError` naming the field, which the receiver logs and drops: never fatal.

Versions (docs/sync.md, "Mixed versions"): a gate reads `READS`, its own payload version and
the one before, and writes the oldest of them unless what it sends needs the newer (a batch
that changes the ledger keys is version 2), so a site may run two versions side by side. A
payload of a version it does not read is dropped with a line saying so.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gate.errors import GateError
from gate.records import Id

MAX_PAYLOAD = 4 * 1024 * 1024  # bytes: a batch of journal rows is far smaller
VERSION = 2
READS = (1, 2)  # this version and the one before
Version = Literal[1, 2]
WRITES: Version = 1  # what is written unless it needs the newer: the oldest version read
Incarnation = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
Seq = Annotated[int, Field(ge=1, le=2**53 - 1)]


class PayloadError(GateError, ValueError):
    """A payload that is not what its topic carries: where and what, for the log."""


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Event(Payload):
    """One journal row of a device, as the hub stores it (gate/cache/redemptions.JournalEntry)."""

    seq: Seq
    id: str = Field(min_length=1, max_length=64)
    at: float = Field(ge=946_684_800, le=4_102_444_800)  # 2000 to 2100, epoch seconds
    type: str = Field(min_length=1, max_length=64)
    lane: str | None = Field(default=None, max_length=64)
    entitlement_id: str | None = Field(default=None, max_length=256)
    redemption_id: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=64)
    body: dict[str, Any] = Field(default_factory=dict)


class Events(Payload):
    """A device's journal rows, in seq order; `floor`: every row up to it was confirmed before."""

    v: Version
    device: Id
    incarnation: Incarnation
    floor: int = Field(ge=0, le=2**53 - 1)
    events: list[Event] = Field(min_length=1, max_length=1000)


class Confirmed(Payload):
    """The hub holds every row of (device, incarnation) up to `through`: the device may let them go."""

    v: Version
    device: Id
    incarnation: Incarnation
    through: int = Field(ge=0, le=2**53 - 1)


P = TypeVar("P", bound=Payload)


def parse(kind: type[P], payload: object) -> P:
    """`payload` (a message's, as the network gave it) as a `kind`, or PayloadError naming the
    first bad field."""
    if not isinstance(payload, bytes | bytearray | str):
        raise PayloadError(f"{kind.__name__}: no payload")
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"{kind.__name__}: {len(payload)} bytes, more than {MAX_PAYLOAD}")
    try:
        return kind.model_validate_json(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        if where == "v":
            raise PayloadError(_unread_version(kind, payload)) from None
        raise PayloadError(f"{kind.__name__}: {where}: {error['msg']}") from None


def readable(kind: type[Payload]) -> tuple[int, ...]:
    """The versions of `kind` this gate reads (its `v` field's)."""
    field = kind.model_fields.get("v")
    return tuple(v for v in get_args(field.annotation) if isinstance(v, int)) if field is not None else ()


def _unread_version(kind: type[Payload], payload: bytes | bytearray | str) -> str:
    """Why a payload's `v` is refused, in words an operator acts on."""
    reads = readable(kind)
    try:
        found = json.loads(payload).get("v")
    except (ValueError, AttributeError):
        found = None
    if isinstance(found, int) and not isinstance(found, bool) and reads:
        newer = found > max(reads)
        return (f"{kind.__name__}: version {found}, {'newer' if newer else 'older'} than this gate reads "
                f"({', '.join(map(str, reads))}){': upgrade this gate' if newer else ''}")  # fmt: skip
    return f"{kind.__name__}: v: no payload version this gate reads ({', '.join(map(str, reads))})"


def events_of(device: str, payload: object) -> Events:
    """A device's events as they came on `device`'s events topic: PayloadError when they are not,
    or when they name another device (a client let onto one topic cannot write under another name)."""
    events = parse(Events, payload)
    if events.device != device:
        raise PayloadError(f"it names device {events.device!r}, its topic {device!r}")
    return events


def dump(payload: Payload) -> bytes:
    return payload.model_dump_json().encode()


class Health(Payload):
    """A device's periodic health, retained on its health topic: what an operator watches."""

    v: Version
    device: Id
    at: float
    software: str = Field(max_length=64)
    format: int = Field(ge=1, le=1000)  # the exchange format's version it reads
    payloads: list[int] = Field(max_length=8)  # the payload versions it reads
    outbox: int = Field(ge=0)
    confirmed_through: int = Field(ge=0)
    batch: int = Field(ge=0)
    head: int = Field(ge=0)
    clock_offset_s: float | None = None  # the hub's clock minus this device's, from the head
    ledger_problem: str = Field(default="", max_length=500)
    # Version 2: the device as its lane daemon and its disk say (gate/sync/health.py).
    lanes: dict[Id, Annotated[str, Field(max_length=32)]] | None = Field(default=None, max_length=64)
    readers: dict[Annotated[str, Field(max_length=64)], bool] | None = Field(default=None, max_length=64)
    clock_trusted: bool | None = None
    storage_free: int | None = Field(default=None, ge=0)
    storage_fault: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _device_needs_v2(self) -> Self:
        if self.v < 2 and (self.lanes, self.readers, self.clock_trusted, self.storage_free, self.storage_fault) != (
            None, None, None, None, None
        ):
            raise ValueError("lanes, readers, clock and storage come in a version-2 health message")
        return self
