"""The hub's judgement of double uses: one record per redemption that took what another had taken.

After each device's message is stored, every entitlement it committed a redemption of is
looked at again: its committed, unvoided redemptions from every device, in the site's order
(time, then device, then id), are counted against the entitlement's allowance by the pure
rule (gate/rules/conflicts.py). A redemption that found nothing left is a double use; the
record names it and the first redemption of the entitlement at another device before it.
A staff override is never one: staff admitted knowingly. Records are kept once by the second
redemption's id, so a message sent again, or the same redemptions judged again, adds nothing.

The entitlement comes from the hub's copy of the ledger (`gate hub publish` keeps it), or,
for an admission a kiosk made, from the record its voucher's committed row carries. One the
hub does not know is not judged (logged once).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gate.cache import Ledger, LedgerError
from gate.cache.peers import read_use
from gate.decision import Use
from gate.hub.store import HubStore, Taken
from gate.records import Entitlement, Ticket
from gate.rules.conflicts import overdrawn
from gate.sync.conflicts import RECENT, Conflict, Conflicts, Side
from gate.sync.payloads import WRITES, Event

log = logging.getLogger("gate.hub")

COMMITTED = "redemption.committed"
OVERRIDE = "override"


def mirror_path(store: Path) -> Path:
    """The hub's copy of the ledger, beside its store (what `gate hub publish` checks files against)."""
    return store.with_name(store.stem + "-ledger.sqlite")


class Judge:
    """Used on the hub's store thread only."""

    def __init__(self, store: HubStore, mirror: Path) -> None:
        self._store = store
        self._mirror = mirror
        self._ledger: Ledger | None = None
        self._unknown: set[str] = set()  # entitlements said to be unknown (once each)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def judge(self, events: Iterable[Event]) -> list[Conflict]:
        """The new conflicts the committed redemptions among `events` reveal (stored before)."""
        entitlements = {e.entitlement_id for e in events if e.type == COMMITTED and e.entitlement_id}
        found: list[Conflict] = []
        for entitlement_id in sorted(entitlements):
            found.extend(self._judge_one(entitlement_id))
        if not found:
            return []
        records = [(c.id, c.entitlement_id, c.found_at, c.model_dump_json()) for c in found]
        new = set(self._store.add_conflicts(records))
        for c in found:
            if c.id in new:
                log.warning("hub: CONFLICT entitlement=%s kind=%s first=%s/%s second=%s/%s", c.entitlement_id, c.kind,
                            c.first.device, c.first.redemption, c.second.device, c.second.redemption)  # fmt: skip
        return [c for c in found if c.id in new]

    def recent(self) -> Conflicts:
        texts = self._store.conflicts(limit=RECENT)
        return Conflicts(v=WRITES, at=time.time(), conflicts=[Conflict.model_validate_json(t) for t in texts])

    def _judge_one(self, entitlement_id: str) -> list[Conflict]:
        taken = self._store.taken(entitlement_id)
        if len(taken) < 2:
            return []
        entitlement = self._entitlement(entitlement_id)
        if entitlement is None:
            if entitlement_id not in self._unknown:
                self._unknown.add(entitlement_id)
                log.warning("hub: entitlement %s is not in the hub's ledger: its uses are not judged", entitlement_id)
            return []
        bodies = [_body(t) for t in taken]
        redemptions = [_uses(body) for body in bodies]
        now = time.time()
        found = []
        for i in overdrawn(entitlement, redemptions):
            if taken[i].reason == OVERRIDE:
                continue
            first = next((j for j in range(i) if taken[j].device != taken[i].device and redemptions[j]), None)
            if first is None:
                first = next((j for j in range(i) if redemptions[j]), None)
            if first is None:
                continue
            found.append(Conflict(
                id=taken[i].redemption, entitlement_id=entitlement_id, kind=entitlement.kind,
                first=_side(taken[first], bodies[first]), second=_side(taken[i], bodies[i]), found_at=now,
            ))  # fmt: skip
        return found

    def _entitlement(self, entitlement_id: str) -> Entitlement | None:
        if self._ledger is None and self._mirror.exists():
            try:
                self._ledger = Ledger.open(self._mirror, create=False)
            except LedgerError as exc:
                log.warning("hub: its copy of the ledger cannot be read: %s", exc)
        if self._ledger is not None:
            found = self._ledger.entitlements([entitlement_id])
            if found:
                return found[0]
        return self._made_by_a_kiosk(entitlement_id)

    def _made_by_a_kiosk(self, entitlement_id: str) -> Entitlement | None:
        """An admission a kiosk created: the record its voucher's committed row carried."""
        for taken in self._store.taken_admission(entitlement_id):
            try:
                return Ticket.model_validate(json.loads(taken)["admission_record"])
            except (ValidationError, KeyError, ValueError, TypeError):
                continue
        return None


def _body(taken: Taken) -> dict[str, Any]:
    try:
        body = json.loads(taken.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _uses(body: dict[str, Any]) -> list[Use]:
    """A committed row's uses, read as the peers read them; one that cannot be read is left out."""
    uses = []
    for use in body.get("uses") or []:
        try:
            uses.append(read_use(use))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return uses


def _side(taken: Taken, body: dict[str, Any]) -> Side:
    lane = body.get("lane")
    return Side(device=taken.device, redemption=taken.redemption, at=taken.at,
                lane=lane if isinstance(lane, str) else None, untrusted=body.get("clock") == "untrusted",
                offline=body.get("offline") is True)  # fmt: skip
