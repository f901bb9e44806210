"""The Ledger: one SQLite file holding what a gate knows and what it has done.

Hot-path reads use the plain sqlite3 connection with constant SQL strings, which the
connection's statement cache keeps prepared. A Ledger is not thread-safe: use it from one
thread at a time (the daemon serialises a lane's decisions anyway).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import sqlite3
import time
from collections.abc import Iterable
from itertools import starmap
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TextIO

from gate.cache import exchange, pool, queries, redemptions, voids
from gate.cache.codec import parse_entitlement
from gate.cache.errors import LedgerError
from gate.cache.exchange import ImportReport, Settings
from gate.cache.occupancy import SITE_INSIDE
from gate.cache.outbox import Outbox
from gate.cache.redemptions import Hold, JournalEntry
from gate.cache.schedule import load_schedule
from gate.cache.schema import BUSY_TIMEOUT_MS, connect
from gate.cache.sql import (
    ALL_STAFF,
    CREDIT_MEMBERSHIPS,
    ENTITLEMENT,
    FIND,
    GET_META,
    KEYS,
    PUT_SETTING,
    RECORD,
    RESOLVE,
    REVISION,
    REVOKED,
    SETTING_PREFIX,
    SUCCESSOR,
    TOUCH,
    USES,
    USES_SINCE,
)
from gate.cache.tail import Tail
from gate.cache.transaction import Snapshot, Transactions, WalSync, Write
from gate.cache.validate import NumberedLine, file_lines, numbered
from gate.decision import Decision, Lane, Schedule, Use
from gate.records import CreditMembership, Direction, Entitlement, Holder, Key, Staff, normalise_reference

log = logging.getLogger("gate.cache")

_AT = itemgetter(1)  # Use.at, without a Python call per use
_MAX_CHAIN = 64  # successor hops; a longer chain can only be a cycle in bad data
# The first commit after a checkpoint has emptied the WAL rewrites the WAL header, which
# SQLite syncs, then syncs again; checkpointing every so many commits makes that rare.
CHECKPOINT_AFTER_COMMITS = 256
# A lane that is never idle still folds its tail after so many redemption rows, in the write
# that reaches it (a few milliseconds, rarely), so the tail's memory stays bounded.
FOLD_BACKSTOP_ROWS = 4096


class Ledger:
    """The local ledger. Open with `Ledger.open(path)`; close, or use as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._path = path
        self._attach(conn)

    def _attach(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # The hot path's statements (a decision's reads, data_version, journal rows) run
        # through one cursor of the ledger's own: see redemptions.Statements.
        self._cursor = conn.cursor()
        self._schedule: Schedule | None = None
        self._schedule_revision = -1
        self._tail = Tail()
        self._wal = WalSync(self._path)
        self._tx = Transactions(conn, refresh=self._refresh, sync=self._wal, after_durable=self._after_durable)

    def reopen(self) -> None:
        """Open the file again, the old connection first (SQLite shares a file's descriptors in
        a process): one opened read-only stays so once the file is fixed. Until a reopen
        works, every call fails as a StorageError (a lane's storage fault retries)."""
        self._wal.close()
        self._conn.close()
        self._attach(connect(self._path, create=False))

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Ledger:
        """Open (and with `create`, create or migrate) the ledger at `path`; LedgerError if impossible."""
        path = Path(path)
        return cls(connect(path, create=create), path)

    def close(self) -> None:
        """Close, leaving the WAL checkpointed (a short-lived command must not leave it to the daemon)."""
        try:
            self.checkpoint(force=True, prime=False)
        except LedgerError as exc:
            log.debug("no checkpoint on closing %s: %s", self._path, exc)
        self._wal.close()
        self._conn.close()

    def checkpoint(self, *, force: bool = False, prime: bool = True) -> bool:
        """Copy the WAL into the database file, off the decision path, when the lane is idle: once
        CHECKPOINT_AFTER_COMMITS writes went by (or `force`); says whether it did. PASSIVE, the
        WAL kept, not truncated; `prime`: see `_prime` (docs/performance.md, "Ledger internals")."""
        if not force and self._tx.unchecked < CHECKPOINT_AFTER_COMMITS:
            return False
        try:
            self._fold()
            busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if prime and busy == 0 and 0 < frames == copied:
                self._prime()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot checkpoint {self._path}: {exc}") from exc
        self._tx.unchecked = 0
        return True

    def _fold(self) -> None:
        """Write the journal's tail into `usage` and `hold` (gate/cache/tail.py): derived data, no
        fsync of its own, and no wait for the lock (with another process writing, the next call folds)."""
        self._conn.execute("PRAGMA busy_timeout = 0")
        try:
            with self._tx.write(durable=False):
                if self._tail.fold(self._conn):
                    self._tx.on_commit(self._tail.folded)
        except LedgerError as exc:
            log.debug("fold of %s postponed: %s", self._path, exc)
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def _prime(self) -> None:
        """Make the write that starts an emptied WAL over (it rewrites and syncs the WAL header)
        now rather than in the next commit; no wait for the lock (another writer does it then)."""
        self._conn.execute("PRAGMA busy_timeout = 0")
        try:
            self.touch(durable=True)
        except LedgerError:
            pass
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def touch(self, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        """Rewrite a meta row (a health probe), or keep device `settings`; never a journal row."""
        with self._tx.write(durable=durable):
            for key, value in (settings or {}).items():
                self._conn.execute(PUT_SETTING, (SETTING_PREFIX + key, value))
            if not settings:
                self._conn.execute(TOUCH)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def revision(self) -> int:
        """Bumped by every import or local change of records; caches compare it."""
        return int(self._conn.execute(REVISION).fetchone()[0])

    # --- hot-path reads --------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """One read transaction for several reads (a decision's): a consistent view, and one
        WAL read lock taken instead of one per statement. Every read of uses and holds runs
        in one, so the in-memory tail and the tables are read as of the same moment."""
        return self._tx.snapshot()

    def _refresh(self) -> None:
        """Catch up with what other connections committed (inside a transaction)."""
        if self._tail.refresh(self._cursor) and self._schedule is not None and self.revision != self._schedule_revision:
            self._schedule = None

    def resolve(self, reference: str) -> tuple[str, ...]:
        """Ids of the entitlements a code finds, each followed to its newest successor.

        A renewed membership's old codes find the renewal; a redeemed voucher's code finds
        its admission.
        """
        code = normalise_reference(reference)
        if not code:
            return ()
        found: list[str] = []
        for entitlement_id, succeeded in self._conn.execute(RESOLVE, (code,)).fetchall():
            newest = self._newest(entitlement_id) if succeeded else entitlement_id
            if newest not in found:
                found.append(newest)
        return tuple(found)

    def _newest(self, entitlement_id: str) -> str:
        seen = [entitlement_id]
        for _ in range(_MAX_CHAIN):
            row = self._conn.execute(SUCCESSOR, (seen[-1],)).fetchone()
            if row is None or row[0] in seen:
                break
            seen.append(row[0])
        return seen[-1]

    def find(self, reference: str) -> list[Entitlement]:
        return self.holding(reference)[0]  # entitlements(resolve(reference)), mostly in one statement

    def holding(self, reference: str) -> tuple[list[Entitlement], Holder | None]:
        """`find`, and the holder of the first entitlement found (None without one): what a
        decision looks up, in the one statement of the usual case."""
        code = normalise_reference(reference)
        if not code:
            return [], None
        rows = self._cursor.execute(FIND, (code,)).fetchall()
        if any(row[2] for row in rows):
            found = self.entitlements(self.resolve(reference))
            holder_id = found[0].holder if found else None
            return found, self.holder(holder_id) if holder_id else None
        holder = rows[0][3] if rows else None
        found = [parse_entitlement(kind, body) for kind, body, _, _ in rows]
        return found, None if holder is None else Holder.model_validate_json(holder)

    def lineage(self, entitlement_id: str) -> tuple[str, ...]:
        """The entitlement, then those it took over from, newest first (renewed memberships, a redeemed voucher).

        Lets a caller fall back on a renewed membership while its renewal is not valid yet.
        """
        return tuple(queries.lineage(self._conn, entitlement_id))

    def entitlements(self, ids: Iterable[str]) -> list[Entitlement]:
        """The stored entitlements with these ids, in order; unknown ids are skipped."""
        found: list[Entitlement] = []
        for entitlement_id in ids:
            row = self._cursor.execute(ENTITLEMENT, (entitlement_id,)).fetchone()
            if row is not None:
                found.append(parse_entitlement(row[0], row[1]))
        return found

    def credit_memberships_of(self, holder_id: str) -> list[CreditMembership]:
        """A holder's credit memberships, oldest purchase first (the order credits are spent in)."""
        found: list[CreditMembership] = []
        for (body,) in self._cursor.execute(CREDIT_MEMBERSHIPS, (holder_id,)).fetchall():
            found.append(parse_entitlement("credit_membership", body))  # type: ignore[arg-type]
        return found

    def holder(self, holder_id: str) -> Holder | None:
        row = self._cursor.execute(RECORD, ("holder", holder_id)).fetchone()
        return None if row is None else Holder.model_validate_json(row[0])

    def staff(self, staff_id: str) -> Staff | None:
        """The staff record with this id, or None (never known, or deleted by a tombstone)."""
        row = self._cursor.execute(RECORD, ("staff", staff_id)).fetchone()
        return None if row is None else Staff.model_validate_json(row[0])

    def staff_members(self) -> list[Staff]:
        """Every staff record, by id."""
        return [Staff.model_validate_json(body) for (body,) in self._conn.execute(ALL_STAFF)]

    def uses(self, entitlement_ids: Iterable[str], *, since: float | None = None) -> tuple[Use, ...]:
        """Held and committed uses of these entitlements, oldest first; with `since` (epoch
        seconds), only the committed ones from then on, and none for infinity (see
        gate/rules/history.py)."""
        found: list[Use] = []
        with self._tx.snapshot():
            if since == math.inf and not self._tail.holding:
                return ()  # no committed use counts and none is held: the annual pass's usual case
            for entitlement_id in dict.fromkeys(entitlement_ids):
                if since is None:
                    found += starmap(Use, self._cursor.execute(USES, (entitlement_id, time.time())))
                elif since != math.inf:
                    found += starmap(Use, self._cursor.execute(USES_SINCE, (entitlement_id, 0, since)))
                found += self._tail.uses_of(entitlement_id, since)
        found.sort(key=_AT)
        return tuple(found)

    def inside(self) -> int:
        """The site's occupancy counter: this gate's entries minus exits, and its peers' (gate/cache/occupancy.py)."""
        return int(self._cursor.execute(SITE_INSIDE).fetchone()[0])

    def keys(self, purpose: Literal["credential", "ledger", "command", "staff"]) -> list[Key]:
        keys = [Key.model_validate_json(body) for (body,) in self._cursor.execute(KEYS).fetchall()]
        return [key for key in keys if key.purpose == purpose]

    def is_revoked(self, id_: str) -> bool:
        return self._cursor.execute(REVOKED, (id_,)).fetchone() is not None

    def schedule(self) -> Schedule:
        """Products, seasons, events, performances and calendars; rebuilt only when they may have changed.

        Another connection's commit (an import by the CLI) is noticed by `_refresh`; the
        revision then tells whether records changed or only the journal did.
        """
        with self.snapshot():
            if self._schedule is None:
                self._schedule_revision = self.revision
                self._schedule = load_schedule(self._conn)
            return self._schedule

    # --- redemptions -----------------------------------------------------------------------

    def hold(
        self, decision: Decision, *, lane: Lane, reference: str, at: dt.datetime, direction: Direction | None = None
    ) -> str:
        """Record a decided redemption as held (its uses count as used).

        Returns the new redemption id. `direction` defaults to the plan's (entry without a plan).
        The hold survives the process (it is in the WAL) but waits for no fsync: after a power
        cut the restart would release it anyway (docs/lane.md, "Start-up"), and the commit that
        follows makes it durable together with itself.
        """
        with self._tx.write(durable=False):
            row, red = redemptions.insert_hold(
                self._cursor, decision, lane=lane, reference=reference, at=at, direction=direction
            )
            self._tx.on_commit(lambda: self._tail.held(row, red))
        return row.redemption_id

    def commit(self, redemption_id: str, *, passed: int | None = None, at: dt.datetime) -> None:
        """The visitors went through: `passed` of the admitted persons (None = all); durable.

        Uses of persons who did not pass are taken back from the end of the plan; 0 passed is
        a release. LedgerError for an unknown or already finished redemption, changing nothing.
        """
        with self._tx.write():
            row = redemptions.commit_held(self._cursor, redemption_id, self._held(redemption_id), passed=passed, at=at)
            if row.created:
                self._bump()
            self._tx.on_commit(lambda: self._tail.finished(row))

    def release(self, redemption_id: str, *, at: dt.datetime, why: str) -> None:
        """Nobody went through: nothing is consumed. Durable."""
        with self._tx.write():
            row = redemptions.release_held(self._cursor, redemption_id, self._held(redemption_id), at=at, why=why)
            self._tx.on_commit(lambda: self._tail.finished(row))

    def redeem(
        self, decision: Decision, *, lane: Lane, reference: str, at: dt.datetime, passed: int | None = None,
        direction: Direction | None = None,
    ) -> str:  # fmt: skip
        """Hold and commit in one transaction and one fsync (no passage to wait for)."""
        with self._tx.write():
            row = redemptions.redeem(
                self._cursor, decision, lane=lane, reference=reference, at=at, passed=passed, direction=direction
            )
            if row.created:
                self._bump()
            self._tx.on_commit(lambda: self._tail.finished(row))
        return row.redemption_id

    def refuse(
        self, decision: Decision, *, lane: Lane, reference: str, at: dt.datetime, direction: Direction = "entry"
    ) -> str:
        """Journal a refusal. It need not be on disk before the visitor sees red, so no fsync waits."""
        with self._tx.write(durable=False):
            event_id, seq = redemptions.insert_refusal(
                self._cursor, decision, lane=lane, reference=reference, at=at, direction=direction
            )
            self._tx.on_commit(lambda: self._tail.seen(seq))
        return event_id

    def record_event(
        self, type_: str, *, at: dt.datetime, lane: str | None = None, entitlement_id: str | None = None,
        redemption_id: str | None = None, reason: str | None = None, body: dict[str, Any] | None = None,
        settings: dict[str, str] | None = None, inside_change: int = 0,
    ) -> str:  # fmt: skip
        """Journal a staff action or other event (never with a holder's name); durable.

        `settings` are device settings the event changes (a lane's mode), kept in the same
        transaction: the journal and the setting can never disagree.
        """
        with self._tx.write():
            for key, value in (settings or {}).items():
                self._conn.execute(PUT_SETTING, (SETTING_PREFIX + key, value))
            event_id, seq = redemptions.insert_event(
                self._cursor, type_, at=at, lane=lane, entitlement_id=entitlement_id, redemption_id=redemption_id,
                reason=reason, body=body or {}, inside=inside_change,
            )  # fmt: skip
            self._tx.on_commit(lambda: self._tail.seen(seq))
        return event_id

    def setting(self, key: str) -> str | None:
        """A device setting kept by `record_event(settings=...)`, or None when never set."""
        with self.snapshot():  # a damaged file: StorageError, not SQLite's own
            row = self._conn.execute(GET_META, (SETTING_PREFIX + key,)).fetchone()
        return None if row is None else str(row[0])

    def open_holds(self) -> list[Hold]:
        """Redemptions still held, oldest first: what a restarting lane must commit or release."""
        with self.snapshot():
            return self._tail.open_holds()

    def journal(self, *, after: int = 0, limit: int = 1000, unpublished: bool = False) -> list[JournalEntry]:
        """Journal entries after sequence number `after`, oldest first."""
        return redemptions.journal(self._conn, after=after, limit=limit, unpublished=unpublished)

    def entry(self, row_id: str) -> JournalEntry | None:
        """The journal row with this id (a decision's), or None (gate/cache/voids.py)."""
        return voids.entry(self._conn, row_id)

    def acted_on(self, decision_id: str, type_: str) -> JournalEntry | None:
        """The newest staff act of `type_` naming this decision, or None."""
        return voids.acted_on(self._conn, decision_id, type_)

    def void(self, redemption_id: str, *, at: dt.datetime, window_s: float, body: dict[str, Any]) -> voids.Voided:
        """Give a committed redemption's uses back and withdraw the admission it created; durable
        (NotVoidable, changing nothing, when it cannot be voided: gate/cache/voids.py)."""
        with self._tx.write():
            used = lambda admission: bool(self.uses([admission]))  # noqa: E731
            done = voids.void(self._cursor, redemption_id, at=at, window_s=window_s, used=used, body=body)
            if done.admission is not None:
                self._bump()
            self._tx.on_commit(lambda: self._tail.voided(done.seq, done.committed_seq))
        return done

    def outbox(self) -> Outbox:  # the journal as sync's outbox, and its peers' rows (gate/cache/outbox.py)
        return Outbox(self._conn, self._tx)

    # --- exchange --------------------------------------------------------------------------

    def import_lines(self, lines: Iterable[str], *, source: str, settings: Settings = None) -> ImportReport:
        """Import exchange-format lines, with device `settings` in its transaction: all or nothing."""
        return self._import(numbered(lines), source=source, settings=settings)

    def import_file(self, path: Path) -> ImportReport:
        path = Path(path)  # big files are checked by a pool of worker processes (gate/cache/pool.py)
        if not path.is_file():
            raise LedgerError(f"no import file at {path}" if not path.exists() else f"{path} is not a file")
        try:
            workers = pool.workers() if path.stat().st_size >= pool.MIN_BYTES else 0
            return self._import(file_lines(path), source=str(path), workers=workers)
        except OSError as exc:
            raise LedgerError(f"cannot read {path}: {exc.strerror or exc}") from exc

    def _import(
        self, lines: Iterable[NumberedLine], *, source: str, workers: int = 0, settings: Settings = None
    ) -> ImportReport:
        try:
            report = exchange.import_numbered(self._conn, lines, source=source, workers=workers, settings=settings)
            self._wal()  # durable once it returns, as a commit is
            return report
        finally:
            self._schedule = None
            self._tx.unchecked = CHECKPOINT_AFTER_COMMITS

    def export(self, out: TextIO) -> int:
        """Write every record and tombstone in the exchange format; returns how many."""
        return exchange.export(self._conn, out)

    def backup(self, target: Path) -> None:
        """Copy the ledger to `target` as one consistent snapshot, even while another process writes."""
        queries.backup(self._conn, Path(target))

    # --- reporting -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self.snapshot():
            return queries.stats(self._conn, self._path, self._tail.counts())

    def activity(self, entitlement_id: str) -> list[Use]:
        """Committed uses of the entitlement and of those it renews (transitively), newest first."""
        with self.snapshot():
            ids = queries.lineage(self._conn, entitlement_id)
            return queries.activity(self._conn, ids, self._tail.committed_of(ids))

    def bulk_insert_uses(self, uses: Iterable[Use]) -> int:
        """Load committed uses without redemptions, quickly: for benchmarks and tests only."""
        self._tx.unchecked = CHECKPOINT_AFTER_COMMITS
        return queries.bulk_insert_uses(self._conn, uses)

    # --- internals -------------------------------------------------------------------------

    def recording(self, *, durable: bool = True) -> Write:
        """One write transaction around a decision and what records it (writes inside join it):
        its lock serialises decisions across processes. Not `durable`: no fsync waits for it."""
        return self._tx.write(durable=durable)

    def _after_durable(self) -> None:
        if self._tail.rows >= FOLD_BACKSTOP_ROWS:
            self._fold()  # not after a fold's own (non-durable) write, nor after a hold's

    def _held(self, redemption_id: str) -> redemptions.Redemption:
        red = self._tail.hold(redemption_id)
        if red is None:
            raise redemptions.not_held(self._conn, redemption_id)
        return red

    def _bump(self) -> None:
        self._conn.execute(exchange.BUMP_REVISION)
        self._schedule = None
