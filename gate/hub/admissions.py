"""Kiosks' admissions into the hub's log: the record a voucher's redemption created on a device.

A kiosk makes the admission in its own ledger and its committed row carries the record, so its
peers make it too (gate/cache/peers.py). The hub adds it to the ledger's log as well, signed like
any batch: a gate that catches up or takes a snapshot later has it, and the back office's
"scanned against sold" counts it. It goes through the hub's copy of the ledger first, as a
published file does, so two kiosks' different admissions at one version end as the import's
rule decides, the same everywhere; one the copy already holds as it is adds nothing.

Without a ledger key (`[hub] ledger_key_file`) the hub cannot sign: it says so once, and the
admissions still reach every device through the peers' rows.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from gate.cache import Ledger, LedgerError
from gate.cache.codec import body_of, exchange_line
from gate.cache.exchange import HEADER
from gate.hub.publish import signed
from gate.hub.store import HubStore
from gate.records import Ticket
from gate.sync.batches import Batch
from gate.sync.payloads import Event

log = logging.getLogger("gate.hub")

COMMITTED = "redemption.committed"


def made_by_kiosks(events: Iterable[Event]) -> list[Ticket]:
    """The admission records committed voucher redemptions carry (a record that does not validate is left out)."""
    found = []
    for event in events:
        record = event.body.get("admission_record") if event.type == COMMITTED else None
        if record is None:
            continue
        try:
            ticket = Ticket.model_validate(record)
        except ValidationError:
            log.warning("hub: an admission record of redemption %s does not validate: not logged", event.redemption_id)
            continue
        if ticket.from_voucher is None and event.entitlement_id is not None:
            ticket = ticket.model_copy(update={"from_voucher": event.entitlement_id})  # as the kiosk stored it
        found.append(ticket)
    return found


def add_to_log(store: HubStore, mirror: Path, admissions: list[Ticket], *, site: str, key_id: str,
               key: Ed25519PrivateKey) -> Batch | None:  # fmt: skip
    """On the store's thread: the admissions the hub's copy does not hold as they are, into the
    copy and the log as one signed batch (None: nothing new)."""
    with Ledger.open(mirror) as copy:
        known = {e.id: (e.version, e.kind, body_of(e)) for e in copy.entitlements([a.id for a in admissions])}
        lines = [exchange_line("entitlement", a.kind, body_of(a)) for a in admissions if _new(a, known.get(a.id))]
        if not lines:
            return None
        text = "\n".join([HEADER, *lines]) + "\n"
        try:
            report = copy.import_lines(text.splitlines(), source="kiosk admissions")
        except LedgerError as exc:
            log.warning("hub: kiosk admissions not logged: %s", exc)
            return None
        if not report.changed:  # kept out by the copy: a tombstone (an erased voucher's, docs/privacy.md)
            return None
    batch = store.append(functools.partial(signed, site, text, key_id, key))
    log.info("hub %s: batch %d: %d kiosk admission(s) added to the log", site, batch.seq, len(lines))
    return batch


def _new(admission: Ticket, known: tuple[int, str, str] | None) -> bool:
    """Whether the copy's record would change: not there, older, or losing to it at one version."""
    if known is None or known[0] < admission.version:
        return True
    return known[0] == admission.version and (admission.kind, body_of(admission)) > known[1:]
