"""How records are stored: bodies, entitlement columns, and JSON-safe decision parameters.

A stored body is `model_dump_json(exclude_defaults=True)`, which leaves out `type` and `kind`
(both are defaults of their class): the table and the `kind` column say which class parses
it back, and an exported line puts them in front again.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from random import getrandbits
from time import time_ns
from typing import Any, NamedTuple

from pydantic import BaseModel

from gate.records import (
    RECORD_TYPES,
    Calendar,
    CreditMembership,
    Entitlement,
    Event,
    Holder,
    Key,
    Membership,
    Performance,
    Product,
    Reservation,
    Revocation,
    Season,
    Staff,
    Subscription,
    Ticket,
    Voucher,
)

RECORD_CLASSES: Mapping[str, type[BaseModel]] = {
    "holder": Holder,
    "product": Product,
    "season": Season,
    "event": Event,
    "performance": Performance,
    "calendar": Calendar,
    "key": Key,
    "revocation": Revocation,
    "staff": Staff,
}
ENTITLEMENT_CLASSES: Mapping[str, type[BaseModel]] = {
    "membership": Membership,
    "credit_membership": CreditMembership,
    "subscription": Subscription,
    "reservation": Reservation,
    "voucher": Voucher,
    "ticket": Ticket,
}
TYPE_ORDER: Mapping[str, int] = {name: rank for rank, name in enumerate(RECORD_TYPES)}


class EntitlementRow(NamedTuple):
    """The columns of table `entitlement`, in order."""

    id: str
    version: int
    kind: str
    holder: str | None
    mode: str
    state: str
    purchased_at: float | None
    predecessor: str | None
    body: str


def body_of(record: BaseModel) -> str:
    body = record.model_dump_json(exclude_defaults=True)
    if isinstance(record, Membership) and '"benefits"' in body:
        # exclude_defaults also drops each benefit's "kind" (a default of its class), but a
        # list of benefits cannot be parsed back without its discriminator.
        data = json.loads(body)
        data["benefits"] = [{"kind": b.kind, **d} for b, d in zip(record.benefits, data["benefits"], strict=True)]
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return body


def predecessor_of(entitlement: Entitlement) -> str | None:
    if isinstance(entitlement, Membership):
        return entitlement.renews
    if isinstance(entitlement, Ticket):
        return entitlement.from_voucher
    return None


def entitlement_row(entitlement: Entitlement, body: str | None = None) -> EntitlementRow:
    purchased = entitlement.purchased_at
    return EntitlementRow(
        entitlement.id,
        entitlement.version,
        entitlement.kind,
        entitlement.holder,
        entitlement.mode,
        entitlement.state,
        None if purchased is None else purchased.timestamp(),
        predecessor_of(entitlement),
        body_of(entitlement) if body is None else body,
    )


def parse_entitlement(kind: str, body: str) -> Entitlement:
    entitlement: Entitlement = ENTITLEMENT_CLASSES[kind].model_validate_json(body)  # type: ignore[assignment]
    return entitlement


def parse_record(type_: str, body: str) -> BaseModel:
    return RECORD_CLASSES[type_].model_validate_json(body)


def exchange_line(type_: str, kind: str | None, body: str) -> str:
    """A stored body as one line of the exchange format, `type` (and `kind`) first."""
    head = f'{{"type":"{type_}","kind":"{kind}"' if kind else f'{{"type":"{type_}"'
    # Every body has at least id and version, so it is never "{}".
    return f"{head},{body[1:]}"


def tombstone_line(type_: str, id_: str, version: int) -> str:
    return json.dumps({"type": type_, "id": id_, "version": version, "deleted": True}, separators=(",", ":"))


def json_safe(value: Any) -> Any:
    """Decision parameters and the like as JSON: instants and days as ISO strings."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    return value


def dumps(value: Any) -> str:
    return json.dumps(json_safe(value), separators=(",", ":"), ensure_ascii=False)


def epoch(at: dt.datetime) -> float:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a ledger time must be aware (carry its UTC offset)")
    return at.timestamp()


def instant(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


_last_ns = [0]  # the time part of the newest id made by this process


def new_id() -> str:
    """A 32-hex-digit id that sorts by creation time: 16 digits of nanoseconds, 16 random.

    Rows keyed by such ids are appended, not scattered over random pages. Within a process
    the time part never repeats or goes back, even when the clock does.
    """
    now = time_ns()
    if now <= _last_ns[0]:
        now = _last_ns[0] + 1
    _last_ns[0] = now
    # The same 32 digits as f"{now:016x}{random:016x}" (until the year 2554), a third of the cost.
    return ((now << 64) | getrandbits(64)).to_bytes(16, "big").hex()
