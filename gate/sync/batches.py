"""The ledger down: the hub's batches, signed, and how a device checks and applies them in order.

A batch is the back office's changes in the ledger exchange format (the one way in for
records), with the hub's ledger sequence number `seq` (not a record's `version`). The hub
signs, with Ed25519, the text `gate-batch:v1:<site>:<seq>:<sha256 of lines>`; a device
checks it against the ledger keys it trusts (gate.sync.trust: its config's, as changed by
earlier batches), never against a key the batch itself brings. A version-2 batch may carry
key changes (`keys`), signed with it (`gate-batch:v2:...:<sha256 of the changes>`); the hub
writes version 1 unless a batch changes keys, so a device of the version before reads the rest.
Then, on the ledger thread:

- batch n+1 on top of n: imported all or nothing, n+1 noted and its key changes kept, in
  the import's one transaction (`Ledger.import_lines(settings=...)`);
- the batch already applied (same seq, same digest): ignored quietly;
- another batch at the applied seq (a rollback or a forgery), a bad signature, or lines the
  import refuses ("batch 7 refused: line 3, valid_from: ..."): not applied, and said in the
  ledger's sync state (`sync.ledger_problem`) for the console and `gate lane status`; the
  lanes keep deciding on what they have;
- a gap (n+2 while at n), or a head ahead of n: the device asks for a catch-up;
- a batch that erases a holder (their tombstones): what it erases is read before the import and
  kept by its transaction, then carried out after it (gate/cache/erasure.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import sqlite3
from dataclasses import dataclass
from typing import Literal, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, model_validator

from gate.cache import Ledger, LedgerError, LedgerImportError, erasure
from gate.records import Id
from gate.sync.payloads import Payload, Version
from gate.sync.trust import SETTING as KEYS_SETTING
from gate.sync.trust import KeyChanges, Trust, TrustError

log = logging.getLogger("gate.sync")

MAX_LINES_BYTES = 900_000  # a batch's lines: under the broker's 1 MB habit, with room for the envelope


class Batch(Payload):
    v: Version
    seq: int = Field(ge=1, le=2**53 - 1)
    lines: str = Field(max_length=MAX_LINES_BYTES)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key: Id
    signature: str = Field(min_length=1, max_length=200)
    keys: KeyChanges | None = None  # version 2: ledger keys added or retired with this batch

    @model_validator(mode="after")
    def _keys_need_v2(self) -> Self:
        if self.keys is not None and self.v < 2:
            raise ValueError("keys: key changes come in a version-2 batch")
        return self

    @property
    def fingerprint(self) -> str:
        """What tells two batches of one seq apart: the lines' digest, and the key changes'."""
        return self.sha256 if self.keys is None else f"{self.sha256}:{digest(self.keys.canonical())}"


class Head(Payload):
    """Retained: the hub's newest batch and its time (a device knows how far behind it is)."""

    v: Version
    seq: int = Field(ge=0, le=2**53 - 1)
    at: float = Field(ge=946_684_800, le=4_102_444_800)


class CatchUp(Payload):
    """A device asks for the batches after `after` (MQTT v5 request/response)."""

    v: Version
    device: Id
    after: int = Field(ge=0, le=2**53 - 1)


def digest(lines: str) -> str:
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _signed_text(site: str, seq: int, sha256: str, keys: KeyChanges | None = None) -> bytes:
    if keys is None:
        return f"gate-batch:v1:{site}:{seq}:{sha256}".encode()
    return f"gate-batch:v2:{site}:{seq}:{sha256}:{digest(keys.canonical())}".encode()


def sign_batch(
    site: str, seq: int, lines: str, *, key_id: str, key: Ed25519PrivateKey, keys: KeyChanges | None = None
) -> Batch:
    """Version 1, or 2 when it carries key changes (`keys`): the oldest version that says it."""
    sha256 = digest(lines)
    signature = base64.b64encode(key.sign(_signed_text(site, seq, sha256, keys))).decode("ascii")
    return Batch(v=1 if keys is None else 2, seq=seq, lines=lines, sha256=sha256, key=key_id, signature=signature,
                 keys=keys)  # fmt: skip


def verify_batch(site: str, batch: Batch, keys: dict[str, str]) -> str | None:
    """None when `batch` is the hub's, signed by a key of `keys`; else why not."""
    if digest(batch.lines) != batch.sha256:
        return "its lines do not match its digest"
    public = keys.get(batch.key)
    if public is None:
        return f"signed by key {batch.key!r}, which this device does not trust"
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public, validate=True)).verify(
            base64.b64decode(batch.signature, validate=True), _signed_text(site, batch.seq, batch.sha256, batch.keys)
        )
    except (InvalidSignature, ValueError, binascii.Error):
        return "its signature does not check out"
    return None


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of a batch: `applied`, `ignored` (had it), `gap` (ask for a catch-up), or
    `refused` with `problem`."""

    outcome: Literal["applied", "ignored", "gap", "refused"]
    seq: int  # the device's applied seq afterwards
    problem: str = ""


SEQ, DIGEST, PROBLEM = "sync.batch_seq", "sync.batch_sha256", "sync.ledger_problem"


def applied_seq(ledger: Ledger) -> int:
    value = ledger.setting(SEQ)
    return int(value) if value and value.isdigit() else 0


def apply_batch(ledger: Ledger, site: str, batch: Batch, config_keys: dict[str, str]) -> Applied:
    """On the ledger thread: check `batch` and apply it on top of the applied one, or say why not.
    `config_keys`: the config's ledger keys; what earlier batches changed is in the ledger."""
    seq = applied_seq(ledger)
    finish_erasure(ledger)
    if batch.seq <= seq:
        if batch.seq == seq and ledger.setting(DIGEST) not in (None, batch.fingerprint):
            return _refused(ledger, seq, f"batch {batch.seq} differs from the one applied (a rollback or a forgery)")
        return Applied("ignored", seq)
    if batch.seq > seq + 1:
        return Applied("gap", seq)
    trust = Trust.load(ledger, config_keys)
    why = verify_batch(site, batch, trust.keys) if batch.key in trust.keys else trust.untrusted(batch.key)
    if why is not None:
        return _refused(ledger, seq, f"batch {batch.seq} refused: {why}")
    settings = {SEQ: str(batch.seq), DIGEST: batch.fingerprint, PROBLEM: ""}
    if batch.keys is not None:
        try:
            settings[KEYS_SETTING] = trust.changed(batch.keys, batch.seq).dump()
        except TrustError as exc:
            return _refused(ledger, seq, f"batch {batch.seq} refused: keys: {exc}")
    try:
        plan = erasure.planned(ledger.path, batch.lines, batch=batch.seq)
        if plan is not None:
            settings[erasure.PENDING] = plan.dump()
        ledger.import_lines(batch.lines.splitlines(), source=f"batch {batch.seq}", settings=settings)
    except LedgerImportError as exc:
        first = exc.problems[0] if exc.problems else None
        where = f"line {first.line}, {first.field}: {first.message}" if first else str(exc)
        return _refused(ledger, seq, f"batch {batch.seq} refused: {where}")
    except (LedgerError, sqlite3.Error) as exc:
        return _refused(ledger, seq, f"batch {batch.seq} not applied: {exc}")
    if plan is not None:
        finish_erasure(ledger)
    return Applied("applied", batch.seq)


def finish_erasure(ledger: Ledger) -> None:
    """The erasure a batch planned, carried out (one a killed sync left, too: at its start and at
    each batch). A failure is logged and tried again later; the batch stays applied."""
    if not ledger.setting(erasure.PENDING):
        return
    try:
        erasure.carry_out(ledger.path)
    except (LedgerError, sqlite3.Error) as exc:
        log.warning("erasure not finished, tried again later: %s", exc)


def _refused(ledger: Ledger, seq: int, problem: str) -> Applied:
    ledger.touch(settings={PROBLEM: problem})
    return Applied("refused", seq, problem)
