"""Snapshots of the ledger: what the hub sends a new or far-behind gate instead of its batches.

A snapshot is the hub's copy of the ledger at batch `seq` (records, tombstones, entitlements
and their codes, table by table) and the site's usage up to the hub's event position
`events_through` (every device's committed and voided redemptions, and its recent holds,
as peer usage), cut into chunks of at most `MAX_CHUNK_BYTES` (JSON rows, zlib-compressed).
A manifest, signed with the hub's ledger key, gives each chunk's table, row count and
SHA-256, so a gate checks every chunk before it stages it and the whole before it switches.

Request and response (MQTT v5: a response topic and correlation data), on the topics of the
batches' catch-up: a device sends a `Want` on `gate/v1/<site>/hub/requests` and the hub
answers on the device's responses topic with a `Manifest`, a `Chunk`, an `EventPage` (peers'
events after a position) or a `Notice` (building, gone, unavailable). Every payload is
versioned, strict and bounded, like the rest of gate/sync/payloads.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import pydantic_core
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, TypeAdapter, ValidationError

from gate.errors import GateError
from gate.records import Id
from gate.sync.batches import _signed_text as batch_text  # the text a batch's signature covers
from gate.sync.payloads import MAX_PAYLOAD, Incarnation, Payload, PayloadError
from gate.sync.trust import KeyChanges, Trust, TrustError

MAX_CHUNK_BYTES = 1_000_000  # a chunk as sent (compressed): about 1 MB, 1.33 MB in its message's base64
CHUNK_RAW_BYTES = 4_000_000  # rows per chunk until their JSON reaches this (compressed, far less)
MAX_RAW_BYTES = 64 * 1024 * 1024  # what a chunk may inflate to at most: no zip bomb gets further
MAX_CHUNKS = 20_000  # 20 GB of chunks: far past any venue
MAX_ROWS = 1_000_000  # rows in one chunk
PAGE_ROWS = 1000  # peers' events per EventPage

# The tables a snapshot carries, in the order the hub writes them, with their columns: the
# ledger's own for the four record tables (gate/cache/schema.py), then peers' usage.
COLUMNS: dict[str, tuple[str, ...]] = {
    "record": ("type", "id", "version", "body"),
    "tombstone": ("type", "id", "version"),
    "entitlement": ("id", "version", "kind", "holder", "mode", "state", "purchased_at", "predecessor", "body"),
    "reference": ("code", "entitlement_id"),
    "usage": ("device", "incarnation", "type", "redemption_id", "body"),
}
Table = Literal["record", "tombstone", "entitlement", "reference", "usage"]
SnapshotId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
_Pos = Annotated[int, Field(ge=0, le=2**53 - 1)]


class SnapshotError(GateError):
    """A snapshot (or a chunk of it) this gate does not take: what and where, for sync.ledger_problem."""


class Want(Payload):
    """device -> hub: a snapshot's manifest (`after`: the batch this ledger has), one of its chunks,
    or peers' events after position `after`."""

    v: Literal[1]
    device: Id
    want: Literal["manifest", "chunk", "events"]
    snapshot: SnapshotId | None = None
    index: int = Field(default=0, ge=0, lt=MAX_CHUNKS)
    after: _Pos = 0


class Part(Payload):
    """One chunk, as the manifest vouches for it."""

    table: Table
    rows: int = Field(ge=0, le=MAX_ROWS)
    sha256: Sha256


class KeyStep(Payload):
    """A batch up to the snapshot's that changed the ledger keys (gate/sync/trust.py), with that
    batch's own signature: a gate checks each against the keys it trusts at that point, as a
    replay would, so it trusts after the switch what it would after replaying the batches."""

    seq: int = Field(ge=1, le=2**53 - 1)
    changes: dict[str, Any]
    sha256: Sha256  # the batch's lines'
    key: Id
    signature: str = Field(min_length=1, max_length=200)


class Manifest(Payload):
    v: Literal[1]
    kind: Literal["snapshot.manifest"]
    id: SnapshotId
    site: Id
    seq: _Pos  # the batch the snapshot stands for: the gate continues with seq + 1
    batch: str = Field(max_length=200)  # what tells batch `seq` apart (its digest), "" at 0
    events_through: _Pos  # the hub's event position the usage goes up to
    at: float = Field(ge=946_684_800, le=4_102_444_800)
    keys: list[KeyStep] = Field(default_factory=list, max_length=256)
    chunks: list[Part] = Field(max_length=MAX_CHUNKS)
    key: Id
    signature: str = Field(min_length=1, max_length=200)

    def rows(self) -> dict[str, int]:
        counts = dict.fromkeys(COLUMNS, 0)
        for part in self.chunks:
            counts[part.table] += part.rows
        return counts


class Chunk(Payload):
    v: Literal[1]
    kind: Literal["snapshot.chunk"]
    snapshot: SnapshotId
    index: int = Field(ge=0, lt=MAX_CHUNKS)
    data: str = Field(max_length=(MAX_CHUNK_BYTES + 2) // 3 * 4)  # base64


class Notice(Payload):
    """hub -> device: the snapshot is being built (the manifest follows), is no longer kept
    (`gone`: ask for a new one), or cannot be made (`unavailable`, `detail` says why)."""

    v: Literal[1]
    kind: Literal["snapshot.notice"]
    state: Literal["building", "gone", "unavailable"]
    snapshot: SnapshotId | None = None
    detail: str = Field(default="", max_length=300)


class EventRow(Payload):
    """A device's journal row that changes usage, at the hub's position `pos`."""

    pos: int = Field(ge=1, le=2**53 - 1)
    device: Id
    incarnation: Incarnation
    type: str = Field(min_length=1, max_length=64)
    redemption_id: str | None = Field(default=None, max_length=64)
    body: dict[str, Any]


class EventPage(Payload):
    """hub -> device: the usage rows after position `after`, through `through`; `more` when the
    device should ask again from `through`."""

    v: Literal[1]
    kind: Literal["snapshot.events"]
    after: _Pos
    through: _Pos
    more: bool
    rows: list[EventRow] = Field(max_length=PAGE_ROWS)


Response = Manifest | Chunk | Notice | EventPage
_RESPONSE: TypeAdapter[Response] = TypeAdapter(Annotated[Response, Field(discriminator="kind")])


def parse_response(payload: object) -> Response:
    """A hub's answer to a `Want`, or PayloadError naming the bad field."""
    if not isinstance(payload, bytes | bytearray | str):
        raise PayloadError("snapshot response: no payload")
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"snapshot response: {len(payload)} bytes, more than {MAX_PAYLOAD}")
    try:
        return _RESPONSE.validate_json(payload, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        raise PayloadError(f"snapshot response: {where}: {error['msg']}") from None


# --- the manifest's signature ----------------------------------------------------------------


def _signed_text(manifest: Manifest) -> bytes:
    body = json.dumps(manifest.model_dump(exclude={"signature"}), sort_keys=True, separators=(",", ":"))
    return f"gate-snapshot:v1:{manifest.site}:{hashlib.sha256(body.encode()).hexdigest()}".encode()


def sign_manifest(manifest: Manifest, *, key_id: str, key: Ed25519PrivateKey) -> Manifest:
    unsigned = manifest.model_copy(update={"key": key_id, "signature": "-"})
    signature = base64.b64encode(key.sign(_signed_text(unsigned))).decode("ascii")
    return unsigned.model_copy(update={"signature": signature})


def trust_after(site: str, manifest: Manifest, config_keys: dict[str, str]) -> Trust:
    """The ledger keys a replay of the batches up to the snapshot's would leave trusted: from the
    config's, each key change taken only when its batch's signature checks out against the keys
    trusted at that point (gate/sync/trust.py); SnapshotError naming the batch otherwise."""
    trust = Trust.parse(dict(config_keys), None)
    for step in manifest.keys:
        where = f"snapshot {manifest.id} refused: the key change of batch {step.seq}"
        try:
            changes = KeyChanges.model_validate(step.changes)
        except ValueError as exc:
            raise SnapshotError(f"{where}: {exc}") from None
        public = trust.keys.get(step.key)
        if public is None:
            raise SnapshotError(f"{where}: {trust.untrusted(step.key)}")
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(public, validate=True)).verify(
                base64.b64decode(step.signature, validate=True), batch_text(site, step.seq, step.sha256, changes)
            )
        except (InvalidSignature, ValueError, binascii.Error):
            raise SnapshotError(f"{where}: its signature does not check out") from None
        try:
            trust = trust.changed(changes, step.seq)
        except TrustError as exc:
            raise SnapshotError(f"{where}: {exc}") from None
    return trust


def verify_manifest(site: str, manifest: Manifest, keys: dict[str, str]) -> str | None:
    """None when `manifest` is this site's hub's, signed by a key of `keys`; else why not."""
    if manifest.site != site:
        return f"it is site {manifest.site!r}'s"
    public = keys.get(manifest.key)
    if public is None:
        return f"signed by key {manifest.key!r}, which this device does not trust"
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public, validate=True)).verify(
            base64.b64decode(manifest.signature, validate=True), _signed_text(manifest)
        )
    except (InvalidSignature, ValueError, binascii.Error):
        return "its signature does not check out"
    return None


# --- chunks -----------------------------------------------------------------------------------
#
# A chunk, inflated, is one table's rows column by column: a first line of JSON, {"table", "rows",
# "columns": [[...], ...]} with every column but the body, then one body per line (a body is the
# ledger's compact JSON, which never holds a line break). Parsing a million rows so takes a
# fraction of what a JSON array per row would (the bodies are not unescaped), and each column's
# types are checked in one pass.

_TYPES: dict[str, tuple[str, ...]] = {  # per column: s text, i integer, n number; ? also null
    "record": ("s", "s", "i", "s"),
    "tombstone": ("s", "s", "i"),
    "entitlement": ("s", "i", "s", "s?", "s", "s", "n?", "s?", "s"),
    "reference": ("s", "s"),
    "usage": ("s", "s", "s", "s?", "s"),
}
_BODY = frozenset({"record", "entitlement", "usage"})  # their last column, one per line
_CHECKS: dict[str, Callable[[list[Any]], bool]] = {
    "s": lambda values: all(type(v) is str for v in values),
    "i": lambda values: all(type(v) is int for v in values),
    "s?": lambda values: all(v is None or type(v) is str for v in values),
    "n?": lambda values: all(v is None or type(v) is float or type(v) is int for v in values),
}


def encode_rows(table: str, rows: Sequence[Sequence[Any]]) -> bytes:
    """A chunk's bytes: the rows by column, compressed (level 1: the hub builds a million rows in
    seconds, and the text still shrinks several times)."""
    columns = [list(column) for column in zip(*rows, strict=True)] or [[] for _ in COLUMNS[table]]
    bodies: list[str] = []
    if table in _BODY:
        bodies = [body if "\n" not in body else json.dumps(json.loads(body), separators=(",", ":"))
                  for body in columns.pop()]  # fmt: skip
    head = json.dumps({"table": table, "rows": len(rows), "columns": columns}, separators=(",", ":"),
                      ensure_ascii=False)  # fmt: skip
    return zlib.compress("\n".join([head, *bodies]).encode("utf-8"), 1)


def decode_chunk(chunk: Chunk, part: Part) -> list[list[Any]]:
    """A chunk's columns, once its bytes match the manifest's SHA-256 and its content the manifest's
    table and count, every column of its table's types; SnapshotError otherwise."""
    try:
        data = base64.b64decode(chunk.data, validate=True)
    except (binascii.Error, ValueError):
        raise SnapshotError("it is not base64") from None
    if hashlib.sha256(data).hexdigest() != part.sha256:
        raise SnapshotError("its SHA-256 does not match the manifest's")
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(data, MAX_RAW_BYTES)
    except zlib.error as exc:
        raise SnapshotError(f"it does not inflate: {exc}") from None
    if inflate.unconsumed_tail or not inflate.eof:
        raise SnapshotError(f"it inflates to more than {MAX_RAW_BYTES} bytes, or is cut short")
    line, _, rest = raw.partition(b"\n")
    try:
        head = pydantic_core.from_json(line, cache_strings=False)
        bodies = rest.decode("utf-8").split("\n") if part.table in _BODY and part.rows else []
    except ValueError as exc:
        raise SnapshotError(f"not a chunk's text: {exc}") from None
    if not isinstance(head, dict) or head.get("table") != part.table or head.get("rows") != part.rows:
        raise SnapshotError(f"not {part.rows} rows of table {part.table!r}")
    columns = head.get("columns")
    if part.table in _BODY and isinstance(columns, list):
        columns.append(bodies)
    names, kinds = COLUMNS[part.table], _TYPES[part.table]
    if not isinstance(columns, list) or len(columns) != len(names):
        raise SnapshotError(f"not the {len(names)} columns of table {part.table!r}")
    for name, kind, values in zip(names, kinds, columns, strict=True):
        if not isinstance(values, list) or len(values) != part.rows or not _CHECKS[kind](values):
            raise SnapshotError(f"column {name}: not {part.rows} values of its type")
    return columns
