"""The ledger's SQLite schema, its versions and how a file is opened and brought up to date.

The schema version is `PRAGMA user_version`; `MIGRATIONS[n]` brings a ledger from version n to
n + 1, and all pending steps run in one transaction, so a crash mid-upgrade leaves the old
schema intact. `PRAGMA application_id` marks a file as a gate ledger, which is how a foreign
SQLite database is told apart from an empty one.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from gate.cache import upgrade
from gate.cache.errors import LedgerError, LedgerUnusable

log = logging.getLogger("gate.cache")

APPLICATION_ID = 0x67617465  # "gate"
BUSY_TIMEOUT_MS = 30_000
# The daemon checkpoints when a lane is idle (Ledger.checkpoint), so a commit never pays for
# one; the automatic checkpoint stays only as a backstop against a WAL growing without end.
WAL_AUTOCHECKPOINT_PAGES = 8192
# A WAL the checkpoint has emptied is rewritten from its start rather than truncated: an fsync
# of pages overwritten in place costs about half that of one that also grows the file.
JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
CACHE_KIB = 16 * 1024

_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Holders, products, seasons, events, performances, calendars, keys and revocations.
CREATE TABLE record (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;

-- WITHOUT ROWID: the body is found in one B-tree seek by id (a rowid table would need the
-- primary-key index and then the table).
-- predecessor: the entitlement this one takes over from (a membership's `renews`, an
-- admission's `from_voucher`); the successor of X is the entitlement whose predecessor is X,
-- which stays right whatever order the two arrive in.
CREATE TABLE entitlement (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    holder TEXT,
    mode TEXT NOT NULL,
    state TEXT NOT NULL,
    purchased_at REAL,
    predecessor TEXT,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX entitlement_credit_by_holder ON entitlement (holder, purchased_at)
    WHERE kind = 'credit_membership';
CREATE INDEX entitlement_by_predecessor ON entitlement (predecessor)
    WHERE predecessor IS NOT NULL;

CREATE TABLE reference (
    code TEXT NOT NULL,
    entitlement_id TEXT NOT NULL,
    PRIMARY KEY (code, entitlement_id)
) WITHOUT ROWID;

-- The highest deleted version seen of each record, so an older upsert cannot resurrect it.
CREATE TABLE tombstone (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;

-- Redemptions still held (decided, the lane open, no passage committed or released yet).
-- A row leaves on commit or release; the permanent record of a finished redemption is its
-- journal row. `plan` is the JSON array of its held uses (each an array in the order of
-- Use's fields, without `held`): a use is held exactly while its row is here. The table
-- stays a few rows long, so its one page is all a hold writes.
CREATE TABLE hold (
    id TEXT PRIMARY KEY,
    lane TEXT NOT NULL,
    zone TEXT NOT NULL,
    direction TEXT NOT NULL,
    reference TEXT NOT NULL,
    entitlement_id TEXT,
    reason TEXT NOT NULL,
    admitted INTEGER NOT NULL,
    at REAL NOT NULL,
    body TEXT NOT NULL,
    plan TEXT NOT NULL
) WITHOUT ROWID;

-- Committed uses (Use), clustered by entitlement: a decision reads an entitlement's uses in
-- one seek over contiguous rows, and a commit writes one leaf page. seq is the journal row
-- of the commit that recorded the use (0 for rows loaded by bulk_insert_uses) and part its
-- place in the redemption's plan (for bulk rows, a running number kept in meta).
CREATE TABLE usage (
    entitlement_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    part INTEGER NOT NULL,
    at REAL NOT NULL,
    direction TEXT NOT NULL,
    persons INTEGER NOT NULL,
    credits INTEGER NOT NULL,
    performance TEXT,
    event TEXT,
    benefit INTEGER,
    lane TEXT NOT NULL,
    zone TEXT NOT NULL,
    PRIMARY KEY (entitlement_id, seq, part)
) WITHOUT ROWID;

-- The durable record of every committed or released redemption, refusal and staff action,
-- written in the transaction of the change it records: the outbox sync publishes from.
-- Every insert appends: seq is the rowid (no AUTOINCREMENT, so no sqlite_sequence page;
-- journal rows are never deleted, so a seq is never reused), `id` is time-ordered and
-- unique by construction (no index), and what is published is tracked by the high-water
-- mark meta.published_through plus `published_at`, not by an index. `inside` is the site's
-- occupancy counter after this row: the newest row holds the current value, so a commit
-- moves the counter without writing another page.
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    at REAL NOT NULL,
    type TEXT NOT NULL,
    lane TEXT,
    entitlement_id TEXT,
    redemption_id TEXT,
    reason TEXT,
    body TEXT NOT NULL,
    published_at REAL,
    inside INTEGER NOT NULL CHECK (inside >= 0)
);

INSERT INTO meta (key, value) VALUES ('format', 'gate-ledger'), ('revision', '0'), ('published_through', '0'),
    ('bulk_uses', '0');
"""

# Version 2: a redemption's steps are journal rows only; `usage` and `hold` are the journal
# folded up to folded_through (gate/cache/tail.py). A version-1 ledger wrote both at once,
# so its whole journal counts as folded.
_V2 = """
INSERT INTO meta (key, value) VALUES ('folded_through', (SELECT coalesce(max(seq), 0) FROM journal))
"""

# Version 3: the ledger's incarnation id, the middle part of its events' keys (device,
# incarnation, seq) for sync; a restore or a rebuild makes a new one (gate/cache/outbox.py).
_V3 = """
INSERT INTO meta (key, value) VALUES ('incarnation', lower(hex(randomblob(8))))
"""

# Version 4: peers' redemptions (gate/cache/peers.py), apart from this gate's journal and
# never in its outbox, counted in its decisions.
_V4 = """
CREATE TABLE peer_redemption (
    id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    state TEXT NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE peer_use (
    entitlement_id TEXT NOT NULL,
    redemption_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    at REAL NOT NULL,
    direction TEXT NOT NULL,
    persons INTEGER NOT NULL,
    credits INTEGER NOT NULL,
    performance TEXT,
    event TEXT,
    benefit INTEGER,
    lane TEXT NOT NULL,
    zone TEXT NOT NULL,
    held INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (entitlement_id, redemption_id, part)
) WITHOUT ROWID;
CREATE INDEX peer_use_redemption ON peer_use (redemption_id);
"""

# Version 5: remote commands' nonces (gate/cache/nonces.py), each kept until its command's
# expiry, so a replayed command is refused across restarts; expired ones are deleted as new come.
_V5 = """
CREATE TABLE command_nonce (
    nonce TEXT PRIMARY KEY,
    expires REAL NOT NULL
) WITHOUT ROWID
"""

# Version 6: the peers' holds by expiry. Every peer message first deletes the lapsed ones, and a
# snapshot fills peer_use with the site's whole usage (gate/cache/staging.py): without this, each
# message scanned it (some 30 ms for 500 000 uses). A snapshot's switch renames the record
# tables; the entitlement's indexes then alternate names (`..._b`): look them up by table.
_V6 = """
CREATE INDEX peer_use_held ON peer_use (expires) WHERE held = 1
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """Open `path` as a gate ledger, creating or upgrading its schema; LedgerError if it is not one."""
    if path.is_dir():
        raise LedgerUnusable(f"{path} is a directory, not a gate ledger")
    if not path.exists():
        if not create:
            raise LedgerError(f"no ledger at {path}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(f"cannot create a ledger at {path}: {exc.strerror or exc}") from exc
    try:
        # Autocommit: every transaction below is explicit, so none is opened behind our back.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open ledger {path}: {exc}") from exc
    try:
        _configure(conn, path)
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        application_id, version = _identity(conn)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise LedgerUnusable(f"{path} is not a gate ledger (not an SQLite database)") from exc
        if "malformed" in str(exc):
            raise LedgerUnusable(f"{path} is damaged ({exc}): restore a backup (docs/operations.md)") from exc
        raise LedgerError(f"cannot open ledger {path}: {exc}") from exc
    if application_id != APPLICATION_ID and (application_id != 0 or version != 0 or _has_tables(conn)):
        raise LedgerUnusable(f"{path} is not a gate ledger (an SQLite database of another application)")
    if version > SCHEMA_VERSION:
        raise LedgerUnusable(
            f"{path} was written by a newer gate (ledger schema {version}; this program knows up to "
            f"{SCHEMA_VERSION}): upgrade gate"
        )
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        # Consistent after a power cut; durable where it must be: see gate/cache/transaction.py.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT_BYTES}")
        conn.execute(f"PRAGMA cache_size = {-CACHE_KIB}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open ledger {path}: {exc}") from exc


def _identity(conn: sqlite3.Connection) -> tuple[int, int]:
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    return int(application_id), int(version)


def _has_tables(conn: sqlite3.Connection) -> bool:
    return bool(conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] > 0)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    found = _identity(conn)[1]
    if found == SCHEMA_VERSION:
        return
    # An existing ledger: one migrator at a time, a backup before the first step (gate/cache/upgrade.py).
    with upgrade.one_at_a_time(path, found):
        try:
            conn.execute("BEGIN IMMEDIATE")
            # Read again under the write lock: another process may have migrated meanwhile.
            application_id, version = _identity(conn)
            if application_id == 0 and _has_tables(conn):
                raise LedgerUnusable(f"{path} is not a gate ledger (an SQLite database of another application)")
            with upgrade.upgrading(conn, path, version, SCHEMA_VERSION):
                for step in range(version, SCHEMA_VERSION):
                    for statement in _statements(MIGRATIONS[step]):
                        conn.execute(statement)
                    log.info("ledger %s: schema migrated to version %d", path, step + 1)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise LedgerError(f"cannot prepare ledger {path}: {exc}") from exc
            raise


def _statements(script: str) -> list[str]:
    """Split a migration into statements, so they run inside our own transaction.

    (`executescript` would commit first.) Migration scripts keep one statement per `;`.
    """
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def quick_check(path: Path) -> str | None:
    """SQLite's `quick_check` of the ledger, on a read-only connection of its own: None when
    sound, else the first problems found (corrupt pages). It reads the whole file (seconds
    for a large ledger), so a daemon runs it in a worker thread."""
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("PRAGMA quick_check(3)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return str(exc)
    return None if rows == [("ok",)] else "; ".join(str(row[0]) for row in rows)


def release_memory(conn: sqlite3.Connection) -> None:
    """Return memory a big job (an import, a bulk load) used to the system.

    SQLite frees its cache pages into the C heap, which keeps freed small blocks for reuse;
    glibc's malloc_trim hands them back (a 1M-entitlement import would leave the daemon some
    130 MB bigger otherwise).
    """
    conn.execute("PRAGMA shrink_memory")
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        # The symbols the process already has, libc's among them; only glibc has malloc_trim.
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None
