"""`gate hub publish FILE`: the back office's changes (a ledger file) into the hub's log as signed batches.

The file is checked by importing it into the hub's own copy of the ledger (all or nothing,
every problem by line and field), so a file a device would refuse never enters the log. Its
records are then cut into batches of at most `MAX_LINES_BYTES` (each importable on its own,
behind the format's header), each given the log's next seq under the store's write lock and
signed with the hub's ledger key. The running `gate hub` publishes them (and the head) within
a fraction of a second.
"""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import Ledger
from gate.cache.exchange import HEADER
from gate.config import GateConfig
from gate.errors import GateError
from gate.hub.store import HubStore, SqliteHubStore
from gate.hub.versions import check_format
from gate.sync.batches import MAX_LINES_BYTES, Batch, sign_batch
from gate.sync.link import LinkError, read_private


class PublishError(GateError):
    """The hub cannot sign (no key, a key file others may read)."""


def ledger_key(config: GateConfig) -> Ed25519PrivateKey:
    path = config.hub.ledger_key_file
    if path is None:
        raise PublishError("hub.ledger_key_file: the hub signs its batches with a ledger key (gate keys generate)")
    try:
        key = serialization.load_pem_private_key(read_private(path, what="hub.ledger_key_file"), password=None)
    except LinkError as exc:
        raise PublishError(str(exc)) from None
    except ValueError as exc:
        raise PublishError(f"hub.ledger_key_file {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise PublishError(f"hub.ledger_key_file {path}: not an Ed25519 key")
    return key


def chunks(lines: list[str]) -> list[str]:
    """The file's records in batches of at most MAX_LINES_BYTES, each behind the header."""
    records = [line for line in lines if line.strip() and '"type":"header"' not in line.replace(" ", "")]
    batches: list[list[str]] = [[]]
    size = len(HEADER) + 1
    for line in records:
        if batches[-1] and size + len(line) + 1 > MAX_LINES_BYTES:
            batches.append([])
            size = len(HEADER) + 1
        batches[-1].append(line)
        size += len(line.encode("utf-8")) + 1
    return ["\n".join([HEADER, *batch]) + "\n" for batch in batches if batch]


def _signed(site: str, text: str, key_id: str, key: Ed25519PrivateKey, seq: int) -> Batch:
    return sign_batch(site, seq, text, key_id=key_id, key=key)


def ready_to_sign(store: HubStore, key_id: str) -> None:
    """PublishError when the log has retired the key the hub would sign with (gate hub keys)."""
    retired = store.retired_keys()
    if key_id in retired:
        raise PublishError(f"hub.ledger_key_id {key_id!r} was retired by batch {retired[key_id]}: sign with the key "
                           "that replaced it ([hub] ledger_key_id and ledger_key_file)")  # fmt: skip


def publish(config: GateConfig, path: Path) -> list[Batch]:
    """Check `path` against the devices' versions and the hub's copy of the ledger, then append its
    batches to the log (TooNew: a known device would not read the file's format)."""
    key = ledger_key(config)
    lines = path.read_text(encoding="utf-8").splitlines()
    store_path = config.hub.store
    store = SqliteHubStore(store_path)
    try:
        site, key_id = config.sync.site, config.hub.ledger_key_id
        ready_to_sign(store, key_id)
        check_format(store, lines, str(path))
        with Ledger.open(store_path.with_name(store_path.stem + "-ledger.sqlite")) as mirror:
            mirror.import_lines(lines, source=str(path))  # LedgerImportError: every problem by line and field
        made = []
        for text in chunks(lines):
            made.append(store.append(functools.partial(_signed, site, text, key_id, key)))
        return made
    finally:
        store.close()
