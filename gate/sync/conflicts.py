"""Conflicts: double uses found once a partition heals, as the hub records them and the gates show them.

The hub is the authority (gate/hub/conflicts.py): one record per double use, the first use
decided by time and then device, each side marked when its device's clock was not trusted
or it decided cut off from the site. Both uses stay in every history; nothing is undone. The
hub publishes the recent records, retained, on `hub/conflicts`; each device's sync keeps the
newest list in its ledger (`sync.conflicts`) for the staff console, so a device that was away
learns them on its next connection without any catch-up.
"""

from __future__ import annotations

import json

from pydantic import Field

from gate.records import Id
from gate.sync.payloads import Payload, Version

RECENT = 50  # records in the retained message, newest first
CONFLICTS = "sync.conflicts"  # the device setting holding the hub's list


class Side(Payload):
    """One of the two uses."""

    device: Id
    redemption: str = Field(min_length=1, max_length=64)
    at: float = Field(ge=946_684_800, le=4_102_444_800)
    lane: str | None = Field(default=None, max_length=64)
    untrusted: bool = False  # stamped by a clock the device did not trust: its time may be wrong
    offline: bool = False  # decided while cut off from the site


class Conflict(Payload):
    """A double use: `second` took what `first` had already taken of the entitlement."""

    id: str = Field(min_length=1, max_length=64)  # the second redemption's: one record per double use
    entitlement_id: str = Field(min_length=1, max_length=256)
    kind: str = Field(max_length=32)
    first: Side
    second: Side
    found_at: float = Field(ge=946_684_800, le=4_102_444_800)


class Conflicts(Payload):
    """Retained on `hub/conflicts`: the hub's recent records, newest first."""

    v: Version
    at: float
    conflicts: list[Conflict] = Field(max_length=RECENT)


def stored(text: str | None) -> list[Conflict]:
    """The list a device kept (`sync.conflicts`); an unreadable one is an empty list."""
    if not text:
        return []
    try:
        return Conflicts.model_validate_json(text).conflicts
    except ValueError:
        return []


def as_setting(conflicts: Conflicts) -> str:
    return conflicts.model_dump_json()


def summary(conflict: Conflict) -> dict[str, object]:
    """What the console shows of one: ids, devices and times, never a holder."""
    return json.loads(conflict.model_dump_json())  # type: ignore[no-any-return]
