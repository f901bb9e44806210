"""The snapshot on the device: asked for, checked, staged chunk by chunk, switched in, caught up.

A gate that is new (no batch applied yet) or more than `[sync] snapshot_behind` batches behind
the hub's head takes a snapshot (gate/sync/snapshot.py) instead of replaying batches:

1. It asks the hub for a manifest (MQTT v5 request/response, as the batches' catch-up) and
   checks its signature against the ledger keys it trusts now (gate/sync/trust.py), as a batch's.
2. It pulls the chunks one by one, each asked for once the one before is in: checked against
   the manifest's SHA-256, then loaded into the ledger's staging tables in write transactions
   of 5 to 15 ms (gate/cache/staging.py), each noting how far it got. A killed `gate
   sync` continues from there; the lanes decide on the live tables meanwhile.
3. The usage chunks (every device's redemptions up to the hub's event position) go straight
   into the peers' tables, as peers' live rows do (forward only: true whatever the records
   say), then the peers' events after that position, asked for page by page, so the counts
   match the hub's. This gate's own rows are left out: its journal has them (after a rebuild,
   the rows of its earlier incarnations count, as a peer's would).
4. With every count and row shape checked, one short transaction switches the tables, notes
   the snapshot's batch (`sync.batch_seq`) and the keys trusted at it, and ends the load; the
   batches after it then come by catch-up.

A chunk or manifest refused (a bad signature, a digest that does not match) is said in
`sync.ledger_problem`, and the gate asks again after a backoff, keeping what it staged.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import aiomqtt

from gate.backoff import Backoff
from gate.cache import Ledger, LedgerError
from gate.cache.staging import Progress, Staging
from gate.config_sync import SyncConfig
from gate.errors import GateError
from gate.sync.batches import DIGEST, PROBLEM, SEQ, applied_seq
from gate.sync.link import Link, LinkDown
from gate.sync.payloads import PayloadError, dump
from gate.sync.snapshot import (
    Chunk,
    EventPage,
    Manifest,
    Notice,
    Part,
    Response,
    SnapshotError,
    Want,
    decode_chunk,
    parse_response,
    trust_after,
    verify_manifest,
)
from gate.sync.topics import Topics
from gate.sync.trust import SETTING as KEYS_SETTING

log = logging.getLogger("gate.sync")

PREFIX = b"snapshot:"  # the correlation data of a snapshot's requests: their answers come here
REBUILD = "sync.rebuild"  # a device setting: "yes" while `gate ledger rebuild` fills a new ledger
ANSWER_S = 15.0  # a request unanswered this long is asked again
BUILD_S = 900.0  # a hub building a snapshot sends its manifest within this
ASKS = 3  # unanswered this many times: wait (backoff), then start over from the progress kept
# Each staging transaction's length, and the pause after it. A lane that finds the ledger locked
# waits in SQLite's busy handler, which sleeps 1, 2, 5, 10 ... up to 100 ms between tries: behind
# long transactions with short gaps its waits grow to tens of ms. So while the lanes write (another
# connection committed within LANES_ACTIVE_S), transactions are short and gaps twice as long (a
# lane's write then waits under 10 ms at p99, measured); when they are idle, the load goes fast.
TX_TARGET_S, PAUSE_S = 0.015, 0.002
GENTLE_TX_S, GENTLE_PAUSE_S = 0.005, 0.010
LANES_ACTIVE_S = 5.0
_T = TypeVar("_T")
Run = Callable[[Callable[[], Any]], Awaitable[Any]]


class Unanswered(GateError):
    """The hub did not answer (or cannot make a snapshot now): ask again later."""


class Unavailable(Unanswered):
    """The hub cannot make a snapshot now (no ledger key, an erasure under way): it said why."""


class Gone(GateError):
    """The hub no longer keeps this snapshot: start over with a new one."""


class Usage(NamedTuple):
    """A usage row of a snapshot or an event page, as a peer's live row (gate/cache/peers.py)."""

    type: str
    redemption_id: str | None
    body: dict[str, Any]


class Puller:
    """Takes a snapshot when `want()` is called (Downlink decides when) and calls `on_done(seq)`."""

    def __init__(
        self, *, ledger: Ledger, run: Run, link: Link, topics: Topics, device: str, settings: SyncConfig
    ) -> None:
        self._ledger = ledger
        self._run = run
        self._link = link
        self._topics = topics
        self.device = device
        self._settings = settings
        self._staging = Staging(ledger._conn, ledger._tx)  # the sync process's own connection, as its Outbox
        self._wanted = asyncio.Event()
        self._answers: dict[bytes, asyncio.Queue[Response | PayloadError]] = {}
        self._backoff = Backoff(initial=1.0, cap=60.0)
        self._rebuild = False
        self._incarnation = ""
        self._until = 0  # after a snapshot, the batches up to the head seen then come by catch-up
        self._head = 0
        self._rates = {False: 200_000.0, True: 20_000.0}  # rows a second in a staging transaction (usage: True)
        self._lanes_until = 0.0  # the lanes wrote lately: gentle transactions until then
        self.busy = False
        self.taken = asyncio.Event()  # a snapshot was taken (`gate ledger rebuild` waits for it)
        self.on_done: Callable[[int], Awaitable[None]] | None = None

    async def start(self) -> None:
        """A load under way (a killed `gate sync`) or a rebuild: wanted from the start."""
        ledger = self._ledger
        progress = await self._run(self._staging.progress)
        self._rebuild = await self._run(lambda: ledger.setting(REBUILD)) == "yes"
        self._incarnation = await self._run(ledger.outbox().incarnation)
        if progress.manifest is not None or self._rebuild:
            self.want()

    def wanted(self, seq: int, head: int) -> bool:
        """Whether a gate at batch `seq` takes a snapshot to reach `head`: new, or far behind."""
        self._head = max(self._head, head)
        if seq < self._until or head <= seq:
            return False
        return seq == 0 or head - seq > self._settings.snapshot_behind

    def want(self) -> None:
        self.busy = True
        self._wanted.set()

    def claims(self, message: aiomqtt.Message) -> bool:
        correlation = getattr(message.properties, "CorrelationData", None)
        return isinstance(correlation, bytes) and correlation.startswith(PREFIX)

    def on_message(self, message: aiomqtt.Message) -> None:
        """An answer on this device's responses topic, to the request it correlates with."""
        queue = self._answers.get(getattr(message.properties, "CorrelationData", b""))
        if queue is None:
            log.debug("sync %s: a late snapshot answer dropped", self.device)
            return
        try:
            queue.put_nowait(parse_response(message.payload))
        except PayloadError as exc:
            queue.put_nowait(exc)

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            while not self._link.up:  # started before the link: a request would only fail
                await asyncio.sleep(0.1)
            try:
                seq = await self._take()
            except SnapshotError as exc:
                log.warning("sync %s: %s", self.device, exc)
                await self._say(str(exc))
            except (Unanswered, LinkDown) as exc:
                log.info("sync %s: no snapshot now (%s): asking again later", self.device, exc)
            except LedgerError as exc:
                log.warning("sync %s: snapshot not staged: %s", self.device, exc)
                await self._say(f"snapshot not staged: {exc}")
            else:
                self._wanted.clear()
                self._backoff.reset()
                self._until = self._head
                self.busy = False
                self.taken.set()
                if self.on_done is not None:
                    await self.on_done(seq)
                continue
            await asyncio.sleep(self._backoff.delay())

    async def _say(self, problem: str) -> None:
        ledger = self._ledger
        await self._run(lambda: ledger.touch(settings={PROBLEM: problem[:500]}))

    # --- the transfer -------------------------------------------------------------------------

    async def _take(self) -> int:
        """One snapshot, from the progress kept to the end; the batch it stands for."""
        stage = self._staging
        while True:
            progress = await self._run(stage.progress)
            manifest = await self._resumed(progress)
            if manifest is None:
                await self._clean()
                applied: int = await self._run(lambda: applied_seq(self._ledger))
                try:
                    manifest = await self._manifest()
                except Unavailable as exc:
                    await self._say(f"no snapshot: {exc}")
                    if applied == 0 or self._rebuild:
                        raise  # a new ledger waits for one: records without the site's usage would let used codes in
                    log.warning("sync %s: no snapshot (%s): catching up by batches", self.device, exc)
                    return applied
                if manifest.seq <= applied and not self._rebuild:
                    log.info("sync %s: the hub's snapshot (batch %d) is not ahead of this ledger (batch %d): catching "
                             "up by batches", self.device, manifest.seq, applied)  # fmt: skip
                    return applied
                progress = Progress(manifest.model_dump_json(), events=manifest.events_through)
                await self._run(functools.partial(stage.begin, progress.manifest or "", events=progress.events))
                log.info("sync %s: snapshot %s of batch %d: %d chunk(s), %s, events through %d", self.device,
                         manifest.id, manifest.seq, len(manifest.chunks), _counts(manifest),
                         manifest.events_through)  # fmt: skip
            try:
                progress = await self._chunks(manifest, progress)
                await self._events(manifest, progress)
            except Gone:
                log.info("sync %s: the hub no longer keeps snapshot %s: starting over", self.device, manifest.id)
                await self._run(lambda: stage.finish({}))
                continue
            await self._switch(manifest)
            self._rebuild = False
            await self._clean()
            log.info("sync %s: snapshot %s taken: batch %d", self.device, manifest.id, manifest.seq)
            return manifest.seq

    async def _resumed(self, progress: Progress) -> Manifest | None:
        """The manifest of a load under way, still trusted and staged as this program stages; else
        None (the load is abandoned: its tables go before the next)."""
        if progress.manifest is None:
            return None
        try:
            manifest = Manifest.model_validate_json(progress.manifest)
            await self._verify(manifest)
        except (ValueError, SnapshotError) as exc:
            log.warning("sync %s: the snapshot under way is abandoned: %s", self.device, exc)
            manifest = None
        if manifest is not None and await self._run(self._staging.staged_matches):
            log.info("sync %s: resuming snapshot %s at chunk %d of %d (row %d)", self.device, manifest.id,
                     progress.chunk + 1, len(manifest.chunks), progress.row)  # fmt: skip
            return manifest
        await self._run(lambda: self._staging.finish({}))
        return None

    async def _verify(self, manifest: Manifest) -> None:
        """SnapshotError unless the manifest is signed by a key this device would trust at its
        batch (its config's, changed by the key changes the manifest carries, each checked)."""
        keys = trust_after(self._topics.site, manifest, self._settings.ledger_keys).keys
        why = verify_manifest(self._topics.site, manifest, keys)
        if why is not None:
            raise SnapshotError(f"snapshot {manifest.id} refused: {why}")

    async def _manifest(self) -> Manifest:
        applied = await self._run(lambda: applied_seq(self._ledger))
        want = Want(v=1, device=self.device, want="manifest", after=applied)
        for _ in range(ASKS):
            async with self._asking(want) as answers:
                deadline = ANSWER_S
                while True:
                    try:
                        answer = await asyncio.wait_for(answers.get(), deadline)
                    except TimeoutError:
                        break
                    if isinstance(answer, PayloadError):
                        raise SnapshotError(f"snapshot refused: {answer}")
                    if isinstance(answer, Manifest):
                        await self._verify(answer)
                        return answer
                    if isinstance(answer, Notice) and answer.state == "building":
                        log.info("sync %s: the hub is building a snapshot", self.device)
                        deadline = BUILD_S
                        continue
                    raise Unavailable(f"the hub: {_said(answer)}")
        raise Unanswered("the hub did not answer")

    async def _answer(self, want: Want, kind: type[_T], what: str) -> _T:
        """The one answer to `want`, asked again while unanswered."""
        for _ in range(ASKS):
            async with self._asking(want) as answers:
                try:
                    answer = await asyncio.wait_for(answers.get(), ANSWER_S)
                except TimeoutError:
                    continue
            if isinstance(answer, kind):
                return answer
            if isinstance(answer, Notice) and answer.state == "gone":
                raise Gone(what)
            if isinstance(answer, PayloadError):
                raise SnapshotError(f"{what}: {answer}")
            raise Unanswered(f"{what}: the hub: {_said(answer)}")
        raise Unanswered(f"{what}: the hub did not answer")

    def _asking(self, want: Want) -> _Asking:
        return _Asking(self, want)

    async def _chunks(self, manifest: Manifest, progress: Progress) -> Progress:
        total = len(manifest.chunks)
        for index in range(progress.chunk, total):
            part = manifest.chunks[index]
            what = f"snapshot {manifest.id} refused: chunk {index + 1} of {total}"
            want = Want(v=1, device=self.device, want="chunk", snapshot=manifest.id, index=index)
            chunk = await self._answer(want, Chunk, what)
            if (chunk.snapshot, chunk.index) != (manifest.id, index):
                raise SnapshotError(f"{what}: it is chunk {chunk.index + 1} of snapshot {chunk.snapshot}")
            try:
                rows = await self._run(lambda: list(zip(*decode_chunk(chunk, part), strict=True)))  # noqa: B023
            except SnapshotError as exc:
                raise SnapshotError(f"{what}: {exc}") from None
            start = progress.row if index == progress.chunk else 0
            progress = await self._stage(manifest, index, part, rows[start:], start)
        return progress

    async def _stage(self, manifest: Manifest, index: int, part: Part, rows: list[Any], start: int) -> Progress:
        """A chunk's rows (from row `start` on) staged in short transactions; the progress after."""
        stage, text, usage = self._staging, manifest.model_dump_json(), part.table == "usage"
        offset = 0  # in `rows`, which begin at the chunk's row `start`
        while True:
            gentle = time.monotonic() < self._lanes_until
            target, pause = (GENTLE_TX_S, GENTLE_PAUSE_S) if gentle else (TX_TARGET_S, PAUSE_S)
            batch = rows[offset : offset + max(20, int(self._rates[usage] * target))]
            offset += len(batch)
            last = offset >= len(rows)
            at = (index + 1, 0) if last else (index, start + offset)
            after = Progress(text, *at, manifest.events_through)
            began = time.perf_counter()
            if usage:
                groups = self._usage((row[0], row[1], row[2], row[3], row[4]) for row in batch)
                await self._run(lambda: stage.usage(groups, after, hold_s=self._settings.peer_hold_s))  # noqa: B023
            else:
                await self._run(lambda: stage.load(part.table, batch, after))  # noqa: B023
            if batch:  # the rate measured, smoothed: the next transaction's size
                rate = len(batch) / max(time.perf_counter() - began, 1e-4)
                self._rates[usage] = max(1000.0, 0.7 * self._rates[usage] + 0.3 * rate)
            if stage.others:
                self._lanes_until = time.monotonic() + LANES_ACTIVE_S
            if last:
                return after
            await asyncio.sleep(pause)

    def _usage(self, rows: Any) -> list[tuple[str, Sequence[Usage]]]:
        """Usage rows (device, incarnation, type, redemption, body as JSON text or an object) by
        device, this gate's own left out (after a rebuild: only its new incarnation's); rows that
        cannot be read are left out too (logged)."""
        kept: list[tuple[str, Usage]] = []
        bad = 0
        for device, incarnation, type_, redemption, body in rows:
            if device == self.device and (not self._rebuild or incarnation == self._incarnation):
                continue
            try:
                data = json.loads(body) if isinstance(body, str) else body
            except ValueError:
                data = None
            if not (isinstance(device, str) and isinstance(type_, str) and isinstance(data, dict)
                    and (redemption is None or isinstance(redemption, str))):  # fmt: skip
                bad += 1
                continue
            kept.append((device, Usage(type_, redemption, data)))
        if bad:
            log.warning("sync %s: %d usage row(s) of the snapshot dropped: they cannot be read", self.device, bad)
        kept.sort(key=lambda pair: pair[0])  # stable: each device's rows stay in their order
        return [(device, [row for _, row in group]) for device, group in itertools.groupby(kept, key=lambda p: p[0])]

    async def _switch(self, manifest: Manifest) -> None:
        stage = self._staging
        why = await self._run(lambda: stage.check(manifest.rows()))
        if why is not None:
            await self._run(lambda: stage.finish({}))  # the hub's snapshot is wrong: start over
            raise SnapshotError(f"snapshot {manifest.id} refused: {why}")
        trust = trust_after(self._topics.site, manifest, self._settings.ledger_keys)  # checked by _verify
        settings = {SEQ: str(manifest.seq), DIGEST: manifest.batch, PROBLEM: "", REBUILD: "",
                    KEYS_SETTING: trust.dump()}  # fmt: skip
        switched = await self._run(lambda: stage.switch(settings))
        rows = manifest.rows()
        log.info("sync %s: snapshot %s switched in %.1f ms: batch %d, %d record(s), %d entitlement(s), %d code(s); "
                 "%d admission(s) made here kept", self.device, manifest.id, switched.seconds * 1000, manifest.seq,
                 rows["record"], rows["entitlement"], rows["reference"], switched.kept)  # fmt: skip

    async def _events(self, manifest: Manifest, progress: Progress) -> None:
        """The peers' events after the snapshot's position, page by page, as peers' rows."""
        after, applied = progress.events, 0
        stage, text, total = self._staging, progress.manifest, len(manifest.chunks)
        while True:
            want = Want(v=1, device=self.device, want="events", after=after)
            page = await self._answer(want, EventPage, f"peers' events after {after}")
            groups = self._usage((r.device, r.incarnation, r.type, r.redemption_id, r.body) for r in page.rows)
            done = Progress(text, total, 0, max(after, page.through))
            changed, _ = await self._run(lambda: stage.usage(groups, done, hold_s=self._settings.peer_hold_s))  # noqa: B023
            applied += changed
            after = done.events
            if not page.more:
                break
        log.info("sync %s: peers' events after position %d: %d applied, through %d", self.device,
                 manifest.events_through, applied, after)  # fmt: skip

    async def _clean(self) -> None:
        """Tables of an abandoned load, or replaced by a switch: emptied in short transactions, dropped."""
        stage = self._staging
        for table in await self._run(stage.leftovers):
            while await self._run(lambda: stage.empty_step(table)):  # noqa: B023
                await asyncio.sleep(GENTLE_PAUSE_S)


class _Asking:
    """`async with`: a request sent with a correlation of its own; its answers in a queue."""

    def __init__(self, puller: Puller, want: Want) -> None:
        self._puller = puller
        self._want = want
        self._correlation = PREFIX + secrets.token_bytes(8)

    async def __aenter__(self) -> asyncio.Queue[Response | PayloadError]:
        puller = self._puller
        answers: asyncio.Queue[Response | PayloadError] = asyncio.Queue()
        puller._answers[self._correlation] = answers
        topics = puller._topics
        try:
            await puller._link.publish(topics.requests, dump(self._want), response_topic=topics.responses(
                puller.device), correlation=self._correlation)  # fmt: skip
        except BaseException:
            puller._answers.pop(self._correlation, None)
            raise
        return answers

    async def __aexit__(self, *exc: object) -> None:
        self._puller._answers.pop(self._correlation, None)


def _counts(manifest: Manifest) -> str:
    return ", ".join(f"{count} {table}" for table, count in manifest.rows().items() if count)


def _said(answer: Response) -> str:
    if isinstance(answer, Notice):
        return f"{answer.state}{': ' + answer.detail if answer.detail else ''}"
    return f"an unexpected {answer.kind}"
