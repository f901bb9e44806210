"""`gate ledger rebuild --config F`: a lost or damaged ledger made again from the hub, in one command.

Offline, like `gate ledger restore` (the CLI refuses while a lane daemon answers; stop `gate sync`
too). It makes a new ledger beside the old one (`<ledger>.rebuilding`, mode 0600) with a new
incarnation, so its events never reuse a key the hub has, and runs this device's sync on it
until the hub's snapshot is in (gate/sync/pull.py; as a rebuild, this device's own events of
its earlier incarnations count as usage, as a peer's would, so a ticket it let through before
the loss stays used) and the batches after it are applied. Only then is the old file (if any)
moved aside, `<ledger>.replaced-<time>`, never deleted, and the new one put in its place: no
other process has either open. Interrupted (a timeout, a kill), it is run again and continues
from the snapshot's progress kept in `<ledger>.rebuilding`.

A ledger that opens and passes SQLite's quick_check is not rebuilt without `--force`: its
events the hub has not confirmed yet would stay behind in the replaced file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from gate.cache import Ledger, LedgerError
from gate.cache.schema import quick_check
from gate.config import GateConfig
from gate.sync.batches import applied_seq
from gate.sync.pull import REBUILD
from gate.sync.service import SyncService

SUFFIXES = ("", "-wal", "-shm")


@dataclass(frozen=True, slots=True)
class Rebuilt:
    seq: int  # the batch the ledger is at
    entitlements: int
    incarnation: str


def sound(path: Path) -> tuple[bool, str]:
    """Whether the ledger at `path` opens and checks out; and the events it holds that the hub has
    not confirmed (or why it is unusable)."""
    try:
        with Ledger.open(path, create=False) as ledger:
            problem = quick_check(path)
            if problem is not None:
                return False, f"damaged ({problem})"
            return True, f"{ledger.outbox().depth()} event(s) not yet confirmed by the hub"
    except LedgerError as exc:
        return False, str(exc)


def prepare(path: Path) -> str:
    """A new, empty ledger at `path`, marked as a rebuild, with a new incarnation; the incarnation."""
    with Ledger.open(path, create=True) as ledger:
        path.chmod(0o600)  # holder data, as the ledger it replaces
        incarnation = ledger.outbox().new_incarnation()
        ledger.touch(durable=True, settings={REBUILD: "yes"})
    return incarnation


async def pull(config: GateConfig, *, source: str, timeout: float) -> Rebuilt:
    """This device's sync on `config`'s ledger until a snapshot is in and the batches after it;
    TimeoutError after `timeout` seconds (the progress is kept in the ledger)."""
    stop = asyncio.Event()
    async with SyncService(config, source=source) as service:
        assert service.snapshots is not None and service.downlink is not None
        snapshots, downlink = service.snapshots, service.downlink

        async def done() -> None:
            await snapshots.taken.wait()
            while downlink.seq < downlink.head:  # the batches after the snapshot's
                await asyncio.sleep(0.1)
            stop.set()

        watcher = asyncio.create_task(done())
        try:
            await asyncio.wait_for(service.run(stop), timeout)
        finally:
            watcher.cancel()
        ledger = Ledger.open(config.ledger.path, create=False)
        try:
            kinds = ledger.stats()["entitlements"]
            return Rebuilt(applied_seq(ledger), sum(kinds.values()), ledger.outbox().incarnation())
        finally:
            ledger.close()


def rebuild(config: GateConfig, *, source: str, force: bool, timeout: float) -> int:
    """The command: exit status 0 (rebuilt), 1 (not finished: run it again), 2 (refused)."""
    target = config.ledger.path
    staged = target.with_name(target.name + ".rebuilding")
    if staged.exists():
        print(f"continuing the rebuild in {staged}")
    else:
        if target.exists():
            ok, detail = sound(target)
            if ok and not force:
                print(f"gate ledger rebuild: {target} opens and checks out ({detail}): it is rebuilt only when lost or "
                      "damaged; --force rebuilds it anyway, keeping it beside as .replaced-<time>")  # fmt: skip
                return 2
            print(f"{target}: {detail}")
        incarnation = prepare(staged)
        print(f"rebuilding {target} from the hub of site {config.sync.site}: new incarnation {incarnation}")
    staged_config = config.model_copy(update={"ledger": config.ledger.model_copy(update={"path": staged})})
    try:
        rebuilt = asyncio.run(pull(staged_config, source=source, timeout=timeout))
    except TimeoutError:
        print(f"gate ledger rebuild: not finished within {timeout:g} s (is the hub running, and the broker at "
              f"{config.sync.host}:{config.sync.port}?): run it again to continue from {staged}")  # fmt: skip
        return 1
    if any(target.with_name(target.name + suffix).exists() for suffix in SUFFIXES):
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        for suffix in SUFFIXES:  # the old file with its WAL: whatever it still holds stays readable
            old = target.with_name(target.name + suffix)
            if old.exists():
                old.replace(target.with_name(f"{target.name}.replaced-{stamp}{suffix}"))
        print(f"the old ledger is kept as {target.name}.replaced-{stamp}")
    for suffix in ("-wal", "-shm"):
        staged.with_name(staged.name + suffix).unlink(missing_ok=True)  # closed and checkpointed: nothing in them
    staged.replace(target)
    print(f"rebuilt {target}: batch {rebuilt.seq}, {rebuilt.entitlements} entitlement(s), incarnation "
          f"{rebuilt.incarnation} (its events never reuse a key the hub has)")  # fmt: skip
    return 0
