"""The hub's watched folder (`[hub] inbox`): the back office drops ledger files, the hub publishes them.

A file is taken when it is complete, which the back office says by its name: it writes
`x.jsonl.tmp` (or any name not ending in `.jsonl`, or a hidden one) and renames it to `x.jsonl`
when done; a rename within one filesystem is atomic, so the hub never reads half a file. There
is no settle time to guess. Files are taken oldest first, one at a time, each exactly as
`gate hub publish` takes it (gate/hub/publish.py: the devices' versions, the hub's copy of the
ledger, all or nothing, erasures), then moved:

- to `done/`, once its batches are in the log;
- to `failed/`, with `<name>.error` beside it naming every problem by line and field (or why the
  devices cannot read it), when nothing of it was published.

Published once, whatever happens: the file's SHA-256 is recorded in the transaction that appends
its batches, so a hub killed between appending them and moving the file finds it published when
it takes it again, and only moves it. A failed file's `.error` is written before the file is
moved, so it is never in `failed/` without its reason. A problem of the hub's own (its key, its
store) leaves the file where it is, said once in the log, and it is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gate.cache import LedgerError, LedgerImportError
from gate.config import GateConfig
from gate.hub.publish import PublishError, finish_erasures, ledger_key, publish
from gate.hub.store import StoreUnavailable, open_store
from gate.hub.versions import TooNew

log = logging.getLogger("gate.hub")

POLL_S = 1.0
DONE, FAILED = "done", "failed"
SUFFIX = ".jsonl"


@dataclass(frozen=True, slots=True)
class Taken:
    outcome: Literal["published", "failed", "left"]  # left: the hub's own problem; tried again later
    said: str
    moved_to: Path | None = None


def ready(folder: Path) -> list[Path]:
    """The complete files waiting: `*.jsonl`, not hidden, oldest first (then by name)."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith(SUFFIX) and not entry.name.startswith(".") and entry.is_file():
                found.append((entry.stat().st_mtime, entry.name))
    return [folder / name for _, name in sorted(found)]


def take(config: GateConfig, path: Path) -> Taken:
    """Publish one file and move it (blocking: run it in a thread)."""
    try:
        published = publish(config, path)
    except LedgerImportError as exc:
        return _failed(path, str(exc).replace(str(path), path.name, 1))
    except TooNew as exc:
        return _failed(path, f"{path.name}: nothing published: {exc}".replace(str(path), path.name))
    except (PublishError, LedgerError, sqlite3.Error, StoreUnavailable) as exc:  # the hub's own problem, not the file's
        return Taken("left", f"{path.name} left in the inbox: {exc}")
    where = _move(path, path.parent / DONE)
    seqs = [batch.seq for batch in published.batches]
    made = "no batch" if not seqs else f"batch {seqs[0]}" if len(seqs) == 1 else f"batches {seqs[0]}-{seqs[-1]}"
    how = "published" if published.new else "published before"
    return Taken("published", f"{path.name}: {how} as {made}; moved to {DONE}/{where.name}", where)


def _failed(path: Path, problems: str) -> Taken:
    target = _free(path.parent / FAILED, path.name)
    error = target.with_name(target.name + ".error")
    temporary = error.with_name(f".{error.name}.tmp")
    temporary.write_text(problems + "\n", encoding="utf-8")
    temporary.replace(error)  # the reason first: a file never sits in failed/ without it
    path.replace(target)
    first = problems.splitlines()[0] if problems else ""
    return Taken("failed", f"{first}; moved to {FAILED}/{target.name} (why: {FAILED}/{error.name})", target)


def _move(path: Path, folder: Path) -> Path:
    target = _free(folder, path.name)
    path.replace(target)
    return target


def _free(folder: Path, name: str) -> Path:
    """`folder/name`, or `name.1`, `name.2`... when a file of that name was moved there before."""
    folder.mkdir(exist_ok=True)
    target, n = folder / name, 0
    while target.exists():
        n += 1
        target = folder / f"{name}.{n}"
    return target


def prepare(config: GateConfig) -> Path:
    """At the hub's start: the folder made, the key readable (PublishError, OSError otherwise)."""
    folder = config.hub.inbox
    assert folder is not None
    ledger_key(config)
    for part in (folder, folder / DONE, folder / FAILED):
        part.mkdir(parents=True, exist_ok=True)
    return folder


def _resume(config: GateConfig) -> None:
    """Erasures a killed publish left half done (gate/hub/erasure.py), finished before anything new."""
    store = open_store(config)
    try:
        finish_erasures(store, config, ledger_key(config))
    finally:
        store.close()


async def watch(config: GateConfig) -> None:
    """The running hub's task: every POLL_S, the complete files taken one by one, until cancelled."""
    folder = config.hub.inbox
    assert folder is not None
    try:
        await asyncio.to_thread(_resume, config)
    except (PublishError, LedgerError, sqlite3.Error, StoreUnavailable) as exc:  # said; tried with the next file
        log.error("hub: an erasure left unfinished could not be finished yet: %s", exc)
    log.info("hub: watching %s for ledger files (*%s)", folder, SUFFIX)
    said: dict[Path, str] = {}  # a file left in the inbox: its reason, said once
    while True:
        try:
            waiting = await asyncio.to_thread(ready, folder)
        except OSError as exc:
            waiting = []
            if said.get(folder) != str(exc):
                said[folder] = str(exc)
                log.error("hub: inbox %s cannot be read: %s", folder, exc)
        for path in waiting:
            try:
                taken = await asyncio.to_thread(take, config, path)
            except OSError as exc:  # gone meanwhile, or a folder we cannot write: tried again
                taken = Taken("left", f"{path.name} left in the inbox: {exc}")
            if taken.outcome == "left":
                if said.get(path) != taken.said:
                    said[path] = taken.said
                    log.error("hub: inbox: %s", taken.said)
                continue
            said.pop(path, None)
            (log.info if taken.outcome == "published" else log.warning)("hub: inbox: %s", taken.said)
        await asyncio.sleep(POLL_S)
