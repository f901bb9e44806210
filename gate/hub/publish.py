"""`gate hub publish FILE`: the back office's changes (a ledger file) into the hub's log as signed batches.

The file is checked by importing it into the hub's own copy of the ledger (all or nothing,
every problem by line and field), so a file a device would refuse never enters the log. Its
records are then cut into batches of at most `MAX_LINES_BYTES` (each importable on its own,
behind the format's header), each given the log's next seq under the store's write lock and
signed with the hub's ledger key. The running `gate hub` publishes them (and the head) within
a fraction of a second.

A file is published once: its SHA-256 is recorded in the transaction that appends its batches,
and a file of a known digest adds nothing (the watched folder takes a file again after a crash
between appending and moving it). A file that deletes holders erases them (gate/hub/erasure.py):
what it erases is found once the hub's copy has imported it, stored with its batches, and
carried out after them; holder tombstones go first in the batches, so a device applying them
one by one knows whose the entitlements deleted after them were.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cache import ImportProblem, Ledger, LedgerImportError
from gate.cache.exchange import HEADER
from gate.config import GateConfig
from gate.errors import GateError
from gate.hub import erasure
from gate.hub.conflicts import mirror_path
from gate.hub.signing import private_key
from gate.hub.store import HubStore, open_store
from gate.hub.versions import check_format
from gate.sync.batches import MAX_LINES_BYTES, Batch, sign_batch


class PublishError(GateError):
    """The hub cannot sign (no key, a key file others may read)."""


def ledger_key(config: GateConfig) -> Ed25519PrivateKey:
    return private_key(config.hub.ledger_key_file, what="hub.ledger_key_file", purpose="ledger", error=PublishError)


def chunks(lines: list[str]) -> list[str]:
    """The file's records in batches of at most MAX_LINES_BYTES, each behind the header; holders'
    tombstones first (a device erases an entitlement it sees deleted after its holder)."""
    records = [line for line in lines if line.strip() and '"type":"header"' not in line.replace(" ", "")]
    records.sort(key=lambda line: not _holder_deleted(line))  # stable: the file's order otherwise
    batches: list[list[str]] = [[]]
    size = len(HEADER) + 1
    for line in records:
        if batches[-1] and size + len(line) + 1 > MAX_LINES_BYTES:
            batches.append([])
            size = len(HEADER) + 1
        batches[-1].append(line)
        size += len(line.encode("utf-8")) + 1
    return ["\n".join([HEADER, *batch]) + "\n" for batch in batches if batch]


def _holder_deleted(line: str) -> bool:
    if '"deleted"' not in line or '"holder"' not in line:
        return False
    try:
        data = json.loads(line)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "holder" and data.get("deleted") is True


def signed(site: str, text: str, key_id: str, key: Ed25519PrivateKey, seq: int) -> Batch:
    """Batch `seq` of the log: `text` signed with the hub's ledger key (a partial of it is a `make`)."""
    return sign_batch(site, seq, text, key_id=key_id, key=key)


def ready_to_sign(store: HubStore, key_id: str) -> None:
    """PublishError when the log has retired the key the hub would sign with (gate hub keys)."""
    retired = store.retired_keys()
    if key_id in retired:
        raise PublishError(f"hub.ledger_key_id {key_id!r} was retired by batch {retired[key_id]}: sign with the key "
                           "that replaced it ([hub] ledger_key_id and ledger_key_file)")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Published:
    batches: list[Batch]
    new: bool  # False: a file of this digest was published before; nothing was added
    kept: tuple[str, ...] = ()  # entitlements of an erased holder that the ledger keeps (not erased)
    erased: tuple[erasure.Done, ...] = ()


    def summary(self) -> list[str]:
        """What an operator reads: the batches, what was erased, what was kept and why."""
        said = [f"batch {b.seq}: {len(b.lines.splitlines()) - 1} line(s), sha256 {b.sha256[:16]}…"
                for b in self.batches]  # fmt: skip
        if not self.new:
            said.insert(0, "published before, as the batch(es) below: nothing added")
        said += [f"erased: {d.entitlements} entitlement(s); {d.events} event(s) pseudonymised; {d.batches} earlier "
                 "batch(es) cut and signed again" for d in self.erased]  # fmt: skip
        if self.kept:
            said.append(f"kept: entitlement(s) {', '.join(self.kept)} of an erased holder are still in the ledger, "
                        "with their events: delete them too to erase them")  # fmt: skip
        return said


def read_lines(path: Path) -> tuple[list[str], str]:
    """The file's lines and its SHA-256; not UTF-8 text is refused like a bad line (nothing imported)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LedgerImportError(str(path), [ImportProblem(0, "", f"not UTF-8 text (byte {exc.start})")]) from None
    return text.splitlines(), hashlib.sha256(data).hexdigest()


def publish(config: GateConfig, path: Path) -> Published:
    """Check `path` against the devices' versions and the hub's copy of the ledger, then append its
    batches to the log (TooNew: a known device would not read the file's format; LedgerImportError:
    every problem by line and field), and carry out what it erases."""
    key = ledger_key(config)
    lines, sha256 = read_lines(path)
    store = open_store(config)
    try:
        site, key_id = config.sync.site, config.hub.ledger_key_id
        known = store.published_file(sha256)
        if known is not None:
            made = store.batches(known[0] - 1, limit=known[1] - known[0] + 1) if known[1] >= known[0] else []
            return Published(made, False, (), finish_erasures(store, config, key))
        ready_to_sign(store, key_id)
        check_format(store, lines, str(path))
        mirror = mirror_path(config.hub.store)
        with Ledger.open(mirror) as copy:
            copy.import_lines(lines, source=str(path))
        planned = erasure.plan(store, mirror, lines)
        extra = erasure.admissions_gone(mirror, planned)  # the hub's own records of an erased holder's
        if extra:
            with Ledger.open(mirror) as copy:
                copy.import_lines([HEADER, *extra], source=f"{path}: admissions of erased vouchers")
            lines = [*lines, *extra]
            planned = erasure.plan(store, mirror, lines)
        makes = [functools.partial(signed, site, text, key_id, key) for text in chunks(lines)]
        made, new = store.append_file(path.name, sha256, makes, planned.request)
        return Published(made, new, planned.kept, finish_erasures(store, config, key))
    finally:
        store.close()


def finish_erasures(store: HubStore, config: GateConfig, key: Ed25519PrivateKey) -> tuple[erasure.Done, ...]:
    """Every erasure stored and not carried out yet (this file's, or one a killed run left)."""
    done = []
    for number, request in store.pending_erasures():
        redact = erasure.redactor(config.sync.site, config.hub.ledger_key_id, key, request)
        done.append(store.erase(number, request, redact))
    return tuple(done)
