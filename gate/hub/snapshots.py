"""The hub's snapshots: built from its copy of the ledger and the events it stores, served in chunks.

**Building** (`build`, in a thread of its own: a million entitlements take seconds): the log's
head `seq` is read first, then the hub's copy of the ledger (`<store>-ledger.sqlite`, which `gate
hub publish` imports every file into before appending its batches) in one read transaction, so
the snapshot holds at least every record of batches up to `seq` (a publish under way may add
some of the next, which its batches then bring again, changing nothing). Then the site's usage
up to the store's newest event position, as peer usage. Rows go table by table in key order
into chunks (gate/sync/snapshot.py), written to the store as they are made; the signed manifest
goes last, and only the newest `KEEP` snapshots are kept.

**Serving** (`SnapshotServer`, on the hub's link): a device's `Want` on the requests topic, with
its response topic (its own responses topic only) and correlation data:

- `manifest`: the newest snapshot when it is fresh (fewer than `[sync] snapshot_behind` batches
  behind the head, ahead of the device's batch, younger than `MAX_AGE_S`, and made after the
  last erasure); otherwise a `building` notice at once and the manifest once built, to every
  device that asked meanwhile;
- `chunk`: that chunk, checked against the manifest's digest first (a damaged one drops the
  snapshot: the device is told it is `gone` and asks for a new one);
- `events`: the usage events after a position, a page at a time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from gate.config import GateConfig
from gate.errors import GateError
from gate.hub.conflicts import mirror_path
from gate.hub.mirror import covered
from gate.hub.publish import PublishError, ledger_key, ready_to_sign
from gate.hub.shelf import Kept
from gate.hub.store import HubStore
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import PayloadError, dump, parse
from gate.sync.snapshot import (
    CHUNK_RAW_BYTES,
    MAX_CHUNK_BYTES,
    PAGE_ROWS,
    Chunk,
    EventPage,
    EventRow,
    KeyStep,
    Manifest,
    Notice,
    Part,
    Want,
    encode_rows,
    sign_manifest,
)
from gate.sync.topics import Topics

log = logging.getLogger("gate.hub")

KEEP = 2  # snapshots kept: the newest, and the one a device may still be pulling
MAX_AGE_S = 3600.0  # an older snapshot is built again (its usage would need many event pages)
READ_ROWS = 5000
_QUERIES = {
    "record": "SELECT type, id, version, body FROM record ORDER BY type, id",
    "tombstone": "SELECT type, id, version FROM tombstone ORDER BY type, id",
    "entitlement": "SELECT id, version, kind, holder, mode, state, purchased_at, predecessor, body FROM entitlement "
    "ORDER BY id",
    "reference": "SELECT code, entitlement_id FROM reference ORDER BY code, entitlement_id",
}
Run = Callable[[Callable[[], Any]], Awaitable[Any]]


class Unavailable(GateError):
    """No snapshot can be made now (no ledger key, an erasure under way, a stopped hub)."""


class _Chunks:
    """Rows into chunks of one table each, written to the store as they fill."""

    def __init__(self, store: HubStore, snapshot: str, stop: threading.Event) -> None:
        self._shelf = store.snapshots()
        self._snapshot = snapshot
        self._stop = stop
        self._table = ""
        self._rows: list[Any] = []
        self._size = 0
        self._made: list[tuple[int, bytes]] = []
        self.parts: list[Part] = []

    def add(self, table: str, rows: list[Any]) -> None:
        if table != self._table:
            self._flush()
            self._table = table
        for row in rows:
            self._rows.append(row)
            self._size += 64 + sum(len(value) for value in row if isinstance(value, str))
            if self._size >= CHUNK_RAW_BYTES:
                self._flush()

    def _flush(self) -> None:
        if self._stop.is_set():
            raise Unavailable("the hub is stopping")
        if self._rows:
            self._encode(self._rows)
        self._rows, self._size = [], 0
        if len(self._made) >= 16 or (self._made and not self._rows):
            self._shelf.put_chunks(self._snapshot, self._made)  # a few per transaction: fewer syncs
            self._made = []

    def _encode(self, rows: list[Any]) -> None:
        data = encode_rows(self._table, rows)
        if len(data) > MAX_CHUNK_BYTES and len(rows) > 1:  # rows that shrink badly: in two
            half = len(rows) // 2
            self._encode(rows[:half])
            self._encode(rows[half:])
            return
        self._made.append((len(self.parts), data))
        self.parts.append(Part(table=self._table, rows=len(rows), sha256=hashlib.sha256(data).hexdigest()))  # type: ignore[arg-type]

    def close(self) -> list[Part]:
        self._flush()
        if self._made:
            self._shelf.put_chunks(self._snapshot, self._made)
        return self.parts


def build(config: GateConfig, store: HubStore, *, stop: threading.Event | None = None) -> Manifest:
    """A new snapshot of the log's head, signed and kept in the store; Unavailable when it cannot be."""
    stop = stop or threading.Event()
    started = time.perf_counter()
    try:
        key = ledger_key(config)
        ready_to_sign(store, config.hub.ledger_key_id)
    except PublishError as exc:
        raise Unavailable(str(exc)) from None
    if store.pending_erasures():
        raise Unavailable("an erasure is being carried out: ask again shortly")
    shelf = store.snapshots()
    seq = covered(mirror_path(config.hub.store), store.head())  # a copy behind the log: its batch (gate/hub/mirror.py)
    batch, steps = _log(store, seq)
    position = shelf.position()
    snapshot = secrets.token_hex(8)
    chunks = _Chunks(store, snapshot, stop)
    mirror = mirror_path(config.hub.store)
    if mirror.exists():
        db = sqlite3.connect(f"{mirror.absolute().as_uri()}?mode=ro", uri=True)
        try:
            db.execute("BEGIN")  # one read transaction: one state of the copy, whatever a publish does
            for table, query in _QUERIES.items():
                cursor = db.execute(query)
                while rows := cursor.fetchmany(READ_ROWS):
                    chunks.add(table, rows)
        finally:
            db.close()
    after, since = 0, time.time() - config.sync.peer_hold_s
    while found := shelf.usage(after, through=position, holds_since=since, limit=READ_ROWS):
        chunks.add("usage", [row[1:] for row in found])
        after = found[-1].pos
    unsigned = Manifest(
        v=1, kind="snapshot.manifest", id=snapshot, site=config.sync.site, seq=seq, batch=batch,
        events_through=position, at=time.time(), keys=steps, chunks=chunks.close(), key=config.hub.ledger_key_id,
        signature="-",
    )  # fmt: skip
    manifest = sign_manifest(unsigned, key_id=config.hub.ledger_key_id, key=key)
    shelf.put(Kept(snapshot, seq, manifest.at, manifest.model_dump_json()), keep=KEEP)
    counts = manifest.rows()
    log.info("hub: snapshot %s of batch %d built in %.1f s: %d chunk(s), %d entitlement(s), %d usage row(s), events "
             "through %d", snapshot, seq, time.perf_counter() - started, len(manifest.chunks), counts["entitlement"],
             counts["usage"], position)  # fmt: skip
    return manifest


def _log(store: HubStore, seq: int) -> tuple[str, list[KeyStep]]:
    """What tells batch `seq` apart (a device notes it as its applied batch's), and the key changes
    of the batches up to it."""
    steps: list[KeyStep] = []
    batch, after = "", 0
    while after < seq and (found := store.batches(after, 200)):
        for each in found:
            if each.seq > seq:
                break
            if each.keys is not None:
                steps.append(KeyStep(seq=each.seq, changes=json.loads(each.keys.canonical()), sha256=each.sha256,
                                     key=each.key, signature=each.signature))  # fmt: skip
            if each.seq == seq:
                batch = each.fingerprint
        after = found[-1].seq
    return batch, steps


class SnapshotServer:
    """Answers devices' `Want`s (on the hub's store thread `run`, and a build thread)."""

    def __init__(self, config: GateConfig, *, store: Callable[[], HubStore | None], link: Link, topics: Topics,
                 run: Run) -> None:  # fmt: skip
        self._config = config
        self._store = store
        self._link = link
        self._topics = topics
        self._run = run
        self._waiting: list[tuple[str, bytes | None]] = []
        self._building: asyncio.Future[Manifest] | None = None
        self._stop = threading.Event()
        self._manifests: dict[str, Manifest] = {}
        self.served = 0  # chunks sent (tests, status)

    def close(self) -> None:
        self._stop.set()

    async def on_request(self, message: aiomqtt.Message) -> bool:
        """Whether the request was a snapshot's (answered, or dropped with a line saying why)."""
        payload = message.payload
        if not isinstance(payload, bytes | bytearray) or b'"want"' not in payload:
            return False
        reply = getattr(message.properties, "ResponseTopic", None)
        correlation = getattr(message.properties, "CorrelationData", None)
        try:
            want = parse(Want, payload)
            if not isinstance(reply, str) or reply != self._topics.responses(want.device):
                raise PayloadError(f"a response topic other than the device's own: {reply!r}")
        except PayloadError as exc:
            log.warning("hub: a message on %s dropped: %s", self._topics.requests, exc)
            return True
        store = self._store()
        if store is None:
            return True
        if want.want == "manifest":
            await self._manifest(store, want, reply, correlation)
        elif want.want == "chunk":
            await self._chunk(store, want, reply, correlation)
        else:
            rows = await self._run(lambda: store.snapshots().usage(want.after, through=2**53 - 1, holds_since=0.0,
                                                                   limit=PAGE_ROWS))  # fmt: skip
            through = rows[-1].pos if rows else want.after
            page = EventPage(v=1, kind="snapshot.events", after=want.after, through=through,
                             more=len(rows) == PAGE_ROWS, rows=[_event(row) for row in rows])  # fmt: skip
            await self._send(reply, page.model_dump_json().encode(), correlation)
        return True

    async def _manifest(self, store: HubStore, want: Want, reply: str, correlation: bytes | None) -> None:
        kept, head, erased = await self._run(lambda: (store.snapshots().newest(), store.head(),
                                                      store.snapshots().erased_at()))  # fmt: skip
        if kept is not None and self._fresh(kept, head, erased, want.after):
            await self._send(reply, kept.manifest.encode(), correlation)
            return
        self._waiting.append((reply, correlation))
        await self._send(reply, dump(Notice(v=1, kind="snapshot.notice", state="building")), correlation)
        if self._building is None:
            config, stop = self._config, self._stop
            self._building = asyncio.get_running_loop().create_future()
            _thread(lambda: build(config, store, stop=stop), self._building)
            asyncio.get_running_loop().create_task(self._built(self._building))

    def _fresh(self, kept: Kept, head: int, erased: float, after: int) -> bool:
        return (head - kept.seq < self._config.sync.snapshot_behind and (kept.seq > after or kept.seq == head)
                and time.time() - kept.at < MAX_AGE_S and kept.at > erased)  # fmt: skip

    async def _built(self, building: asyncio.Future[Manifest]) -> None:
        try:
            manifest = await building
        except Exception as exc:  # said to every device waiting: each asks again later
            log.warning("hub: no snapshot made: %s", exc)
            answer = dump(Notice(v=1, kind="snapshot.notice", state="unavailable", detail=str(exc)[:300]))
        else:
            answer = manifest.model_dump_json().encode()
        finally:
            self._building = None
        waiting, self._waiting = self._waiting, []
        for reply, correlation in waiting:
            await self._send(reply, answer, correlation)

    async def _chunk(self, store: HubStore, want: Want, reply: str, correlation: bytes | None) -> None:
        snapshot, index = want.snapshot or "", want.index
        manifest = self._manifests.get(snapshot)
        if manifest is None:
            kept = await self._run(lambda: store.snapshots().get(snapshot))
            if kept is not None:
                manifest = Manifest.model_validate_json(kept.manifest)
                self._manifests = {**dict(list(self._manifests.items())[-KEEP + 1 :]), snapshot: manifest}
        data = await self._run(lambda: store.snapshots().chunk(snapshot, index)) if manifest is not None else None
        if manifest is not None and data is None and index < len(manifest.chunks):
            # A chunk gone from a kept snapshot (a damaged store, or a hub of an older release that
            # cleared it as an orphan while it was written): unusable for everyone, so dropped, and the
            # next asking builds anew.
            log.warning("hub: snapshot %s lacks chunk %d: the snapshot is dropped", snapshot, index)
            await self._run(lambda: store.snapshots().drop(snapshot))
            self._manifests.pop(snapshot, None)
        if manifest is None or data is None or index >= len(manifest.chunks):
            await self._send(reply, dump(Notice(v=1, kind="snapshot.notice", state="gone", snapshot=want.snapshot)),
                             correlation)  # fmt: skip
            return
        if hashlib.sha256(data).hexdigest() != manifest.chunks[index].sha256:  # damaged in the store
            log.error("hub: snapshot %s chunk %d is damaged: the snapshot is dropped (a new one is built)", snapshot,
                      index)  # fmt: skip
            await self._run(lambda: store.snapshots().drop(snapshot))
            self._manifests.pop(snapshot, None)
            await self._send(reply, dump(Notice(v=1, kind="snapshot.notice", state="gone", snapshot=want.snapshot)),
                             correlation)  # fmt: skip
            return
        chunk = Chunk(v=1, kind="snapshot.chunk", snapshot=snapshot, index=index,
                      data=base64.b64encode(data).decode("ascii"))  # fmt: skip
        await self._send(reply, dump(chunk), correlation)
        self.served += 1

    async def _send(self, reply: str, payload: bytes, correlation: bytes | None) -> None:
        with contextlib.suppress(LinkDown):  # lost: the device asks again
            await self._link.publish(reply, payload, correlation=correlation)


def _event(row: Any) -> EventRow:
    return EventRow(pos=row.pos, device=row.device, incarnation=row.incarnation, type=row.type,
                    redemption_id=row.redemption_id, body=json.loads(row.body))  # fmt: skip


def _thread(work: Callable[[], Manifest], done: asyncio.Future[Manifest]) -> None:
    """`work` in a daemon thread (a stopping hub does not wait for a build), its outcome into `done`."""
    loop = asyncio.get_running_loop()

    def settle(result: Manifest | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            assert result is not None
            done.set_result(result)

    def main() -> None:
        try:
            result = work()
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=main, name="hub-snapshot", daemon=True).start()
