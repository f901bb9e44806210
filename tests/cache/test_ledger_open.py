"""Opening a ledger: what an operator sees when the path is wrong, foreign or too new."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from gate.cache import SCHEMA_VERSION, Ledger, LedgerError, schema
from gate.cache.schema import APPLICATION_ID


def test_a_new_ledger_is_created_with_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "var" / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        stats = ledger.stats()
    assert path.is_file()
    assert stats["schema_version"] == SCHEMA_VERSION
    assert stats["revision"] == 0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()


def test_an_empty_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.touch()
    with Ledger.open(path, create=False) as ledger:
        assert ledger.stats()["schema_version"] == SCHEMA_VERSION
        assert ledger.inside() == 0


def test_reopening_keeps_what_was_stored(ledger_path: Path, ledger: Ledger) -> None:
    revision = ledger.revision
    ledger.close()
    with Ledger.open(ledger_path, create=False) as again:
        assert again.revision == revision
        assert again.resolve("T3001") == ("t-3001",)


def test_a_missing_path_without_create_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match=r"^no ledger at .*nowhere\.sqlite$"):
        Ledger.open(tmp_path / "nowhere.sqlite", create=False)
    assert not (tmp_path / "nowhere.sqlite").exists()


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="is a directory, not a gate ledger"):
        Ledger.open(tmp_path)


def test_a_text_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("shopping list: milk, bread, eggs and more\n" * 200)
    before = path.read_bytes()
    with pytest.raises(LedgerError, match=r"notes\.txt is not a gate ledger \(not an SQLite database\)"):
        Ledger.open(path)
    assert path.read_bytes() == before


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE dogs (name TEXT)")
        db.execute("INSERT INTO dogs VALUES ('Cleo')")
    with pytest.raises(LedgerError, match=r"other\.db is not a gate ledger \(an SQLite database of another"):
        Ledger.open(path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM dogs").fetchone() == (1,)


def test_a_ledger_from_a_newer_gate_is_refused(ledger_path: Path) -> None:
    Ledger.open(ledger_path).close()
    conn = sqlite3.connect(ledger_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerError, match=rf"newer gate \(ledger schema {SCHEMA_VERSION + 1}; this program knows"):
        Ledger.open(ledger_path)


def test_a_failed_migration_leaves_the_file_untouched(ledger_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, "CREATE TABLE broken (;"))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))
    with pytest.raises(LedgerError, match="cannot prepare ledger"):
        Ledger.open(ledger_path)
    conn = sqlite3.connect(ledger_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0
    conn.close()


def test_pragmas_for_consistency_and_waiting(ledger: Ledger) -> None:
    conn = ledger._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: durable writes sync themselves
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_version_1_ledger_keeps_its_uses_and_open_holds(tmp_path: Path) -> None:
    """Version 1 wrote `usage` and `hold` at once: its whole journal counts as folded."""
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in schema._statements(schema.MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO journal (id, at, type, lane, entitlement_id, redemption_id, reason, body, inside) "
        "VALUES ('j1', 1.0, 'redemption.committed', 'north-1', 't-1', 'r1', 'ok', '{}', 2)"
    )
    conn.execute(
        "INSERT INTO usage VALUES ('t-1', 1, 0, 1.0, 'entry', 2, 0, NULL, NULL, NULL, 'north-1', 'main-hall')"
    )
    summary = {"verdict": "admit", "reason": "ok", "params": {}, "admitted": 1, "entitlement_id": "t-2",
               "kind": "ticket"}  # fmt: skip
    plan = [["t-2", 5.0, "entry", 1, 0, None, None, None, "north-1", "main-hall"]]
    conn.execute(
        "INSERT INTO hold VALUES ('r2', 'north-1', 'main-hall', 'entry', 'T2', 't-2', 'ok', 1, 5.0, ?, ?)",
        (json.dumps(summary), json.dumps(plan)),
    )
    conn.close()
    with Ledger.open(path) as ledger:
        assert ledger.stats()["schema_version"] == SCHEMA_VERSION
        assert [(u.entitlement_id, u.persons, u.held) for u in ledger.uses(["t-1", "t-2"])] == [
            ("t-1", 2, False), ("t-2", 1, True)
        ]  # fmt: skip
        assert [h.id for h in ledger.open_holds()] == ["r2"]
        assert ledger.stats()["redemptions"] == {"held": 1, "committed": 1, "released": 0}
