"""The PostgreSQL store's schema (gate/hub/postgres.py) as numbered SQL files, `NNNN_what.sql`:
each applied once, in order, in one transaction with its record in `hub_migration`.

Several hub processes may start at once on one database: each migration's transaction first
takes an advisory lock, then looks at what is applied, so one applies it and the others find
it done. A database migrated past what this gate knows (a newer hub ran on it) is refused: in
a rolling upgrade the hub goes first, and an older one must not write a schema it does not know.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

from gate.errors import GateError

LOCK = 0x6761_7465_6875_6200  # "gatehub": the advisory lock the migrations take
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_TABLE = """
CREATE TABLE IF NOT EXISTS hub_migration (
    number integer PRIMARY KEY,
    name text NOT NULL,
    applied_at double precision NOT NULL
)
"""


class SchemaTooNew(GateError):
    """The database holds migrations this gate does not know."""


@dataclass(frozen=True, slots=True)
class Migration:
    number: int
    name: str
    sql: str


def known() -> list[Migration]:
    """This gate's migrations, in order (numbered 1, 2, ... without a gap)."""
    found = []
    for entry in resources.files(__package__).iterdir():
        match = _NAME.match(entry.name)
        if match is not None:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.number)
    if [m.number for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"gate/hub/migrations: numbered {[m.number for m in found]}, not 1, 2, ...")
    return found


def applied(conn: psycopg.Connection[Any]) -> list[int]:
    """The numbers of the migrations the database holds (none: an empty database)."""
    with conn.transaction():
        if conn.execute("SELECT to_regclass('hub_migration')").fetchone() in (None, (None,)):
            return []
        return [int(n) for (n,) in conn.execute("SELECT number FROM hub_migration ORDER BY number")]


def upgrade(conn: psycopg.Connection[Any], *, through: int | None = None) -> list[int]:
    """Apply what is missing (up to migration `through`: a test's previous release); the numbers
    applied. `conn` is in autocommit mode. SchemaTooNew: the database is past this gate."""
    migrations = known()
    newest = len(migrations)
    done: list[int] = []
    for migration in migrations[:through]:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
            conn.execute(_TABLE)
            held = {int(n) for (n,) in conn.execute("SELECT number FROM hub_migration")}
            if held and max(held) > newest:
                raise SchemaTooNew(f"the hub's database is at migration {max(held)}, this gate knows up to "
                                   f"{newest}: upgrade gate on this hub")  # fmt: skip
            if migration.number in held:
                continue
            conn.execute(migration.sql.encode())  # a file of several statements, without parameters
            conn.execute("INSERT INTO hub_migration (number, name, applied_at) VALUES (%s, %s, %s)",
                         (migration.number, migration.name, time.time()))  # fmt: skip
            done.append(migration.number)
    return done
