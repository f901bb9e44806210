"""The hub on PostgreSQL as an operator runs it: its schema migrated from empty and from the
previous release, its connection string a secret, and a real `gate hub` on a throwaway cluster
with a real Mosquitto and a `gate sync` device (tests/pg.py, tests/sync/conftest.py)."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from pathlib import Path

import psycopg
import pytest

from gate.cache import Ledger
from gate.config import load_config
from gate.errors import GateError
from gate.hub import migrations
from gate.hub.postgres import PostgresHubStore
from gate.hub.store import open_store
from gate.sync.link import LinkError
from gate.sync.payloads import Event, Events
from tests.configs import config_text
from tests.sync.conftest import Site, until

INC = "0123456789abcdef"
AT = 1_780_000_000.0


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def test_an_empty_database_gets_every_migration_once(pg_dsn: str) -> None:
    store = PostgresHubStore(pg_dsn, "s1")
    store.close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert migrations.applied(conn) == [1, 2]
        assert migrations.upgrade(conn) == []  # a second start applies nothing
    assert {"venue", "event", "mark", "batch", "snapshot", "erasure", "hub_migration"} <= _tables(pg_dsn)


def test_a_store_of_the_previous_release_keeps_its_events_marks_and_log_when_upgraded(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert migrations.upgrade(conn, through=1) == [1]
        # What the previous release's store wrote: a venue, two events and their mark, one batch.
        conn.execute("INSERT INTO venue (site, head) VALUES ('s1', 1)")
        for seq in (1, 2):
            conn.execute("INSERT INTO event (site, device, incarnation, seq, id, at, type, body, received_at) "
                         "VALUES ('s1', 'd1', %s, %s, %s, %s, 'lookup', '{}', %s)",
                         (INC, seq, f"e{seq}", AT + seq, AT))  # fmt: skip
        conn.execute("INSERT INTO mark (site, device, incarnation, through) VALUES ('s1', 'd1', %s, 2)", (INC,))
        conn.execute("INSERT INTO batch (site, seq, payload, at) VALUES ('s1', 1, '{}', %s)", (AT,))
    store = PostgresHubStore(pg_dsn, "s1")  # upgrades on opening
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            assert migrations.applied(conn) == [1, 2]
        assert store.count("d1") == 2 and store.mark("d1", INC) == 2 and store.head() == 1
        # New events carry on from the old mark and get positions; the old ones stand at 0.
        more = Events(v=1, device="d1", incarnation=INC, floor=0,
                      events=[Event(seq=3, id="e3", at=AT + 3, type="redemption.committed", redemption_id="r3")])
        assert store.add(more) == (1, 3)
        assert [u.pos for u in store.snapshots().usage(0, through=10, holds_since=0, limit=10)] == [1]
        assert [e.id for e in store.events(0, AT + 10)] == ["e1", "e2", "e3"]
    finally:
        store.close()


def test_two_hubs_starting_at_once_on_an_empty_database_migrate_it_once(pg_dsn: str) -> None:
    opened: list[PostgresHubStore] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PostgresHubStore(pg_dsn, "s1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in opened:
        store.close()
    assert errors == [] and len(opened) == 3
    with psycopg.connect(pg_dsn) as conn:
        assert [n for (n,) in conn.execute("SELECT number FROM hub_migration ORDER BY number")] == [1, 2]


def test_a_migration_that_fails_leaves_nothing_of_it(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    PostgresHubStore(pg_dsn, "s1").close()
    broken = migrations.Migration(3, "broken", "CREATE TABLE half (a integer); SELECT 1 / 0;")
    known = migrations.known()
    monkeypatch.setattr(migrations, "known", lambda: [*known, broken])
    with pytest.raises(psycopg.errors.DivisionByZero):
        PostgresHubStore(pg_dsn, "s1")
    assert "half" not in _tables(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert migrations.applied(conn) == [1, 2]


def test_a_database_a_newer_hub_migrated_is_refused(pg_dsn: str) -> None:
    PostgresHubStore(pg_dsn, "s1").close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO hub_migration (number, name, applied_at) VALUES (3, 'future', 0)")
    with pytest.raises(migrations.SchemaTooNew, match="at migration 3, this gate knows up to 2: upgrade gate"):
        PostgresHubStore(pg_dsn, "s1")


def _hub_config(tmp_path: Path, dsn: str, mode: int = 0o600) -> Path:
    secret = tmp_path / "hub.dsn"
    secret.write_text(dsn + "\n")
    secret.chmod(mode)
    config = tmp_path / "hub.toml"
    config.write_text(config_text({"ledger": {"path": "unused.sqlite"}, "sync": {"site": "s1"},
                                   "hub": {"store": "hub.sqlite", "dsn_file": "hub.dsn"}}))  # fmt: skip
    return config


def test_the_config_s_dsn_file_chooses_postgresql_and_is_a_secret(tmp_path: Path, pg_dsn: str) -> None:
    store = open_store(load_config(_hub_config(tmp_path, pg_dsn)))
    try:
        assert isinstance(store, PostgresHubStore) and store.head() == 0
    finally:
        store.close()
    assert not (tmp_path / "hub.sqlite").exists()
    with pytest.raises(LinkError, match=r"hub.dsn_file .*hub.dsn: readable by others \(mode 644\): chmod 600 it"):
        open_store(load_config(_hub_config(tmp_path, pg_dsn, 0o644)))


@pytest.mark.parametrize("dsn", ["host=127.0.0.1 password=s3cret-pw dbname", "postgresql://gate:s3cret-pw@h:x/db"])
def test_a_connection_string_libpq_cannot_read_is_refused_without_showing_it(tmp_path: Path, dsn: str) -> None:
    with pytest.raises(GateError) as refused:
        open_store(load_config(_hub_config(tmp_path, dsn)))
    assert "hub.dsn_file" in str(refused.value) and "s3cret-pw" not in str(refused.value)


def test_a_database_that_does_not_answer_is_named(tmp_path: Path) -> None:
    dsn = "host=127.0.0.1 port=1 user=gate password=s3cret-pw dbname=hub connect_timeout=2"
    with pytest.raises(GateError, match=r"hub.dsn_file .*PostgreSQL: .*port 1 failed") as refused:
        open_store(load_config(_hub_config(tmp_path, dsn)))
    assert "s3cret-pw" not in str(refused.value)


# --- a real hub on PostgreSQL ------------------------------------------------------------------


def _write(ledger: Ledger, count: int) -> None:
    at = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
    for n in range(count):
        ledger.record_event("lookup", at=at, lane="l1", body={"n": n}, reason="ok")


def test_a_hub_on_postgresql_stores_a_device_s_events_once_and_confirms_them(site: Site, pg_dsn: str) -> None:
    secret = site.dir / "hub.dsn"
    secret.write_text(f"{pg_dsn} password=s3cret-pw")  # the cluster trusts loopback: asked for by nobody
    secret.chmod(0o600)
    hub_config = site.config("hub", hub={"dsn_file": "hub.dsn"})
    config, ledger = site.device("d1")
    outbox = ledger.outbox()
    _write(ledger, 25)
    hub = site.run("hub", hub_config)
    sync = site.run("sync", config)
    reader = PostgresHubStore(f"{pg_dsn} application_name=test", "s1")  # the hub's are gate-hub-s1
    try:
        until(lambda: reader.count("d1") == 25, what="the hub has the 25 rows, in PostgreSQL")
        until(lambda: outbox.depth() == 0, what="the hub's mark confirmed them")
        # The hub killed as a power cut would, rows written meanwhile, the hub back: each row once.
        assert hub.stop(signal.SIGKILL) == -signal.SIGKILL
        _write(ledger, 10)
        hub = site.run("hub", hub_config)
        until(lambda: outbox.depth() == 0, what="the 10 more confirmed by the restarted hub")
        assert reader.count("d1") == 35 and reader.mark("d1", outbox.incarnation()) == 35
        # The database cuts the hub's connection (a restart, a failover): the hub carries on.
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            cut = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                                "AND application_name = 'gate-hub-s1'").fetchall()  # fmt: skip
        _write(ledger, 5)
        until(lambda: outbox.depth() == 0, what="5 more confirmed after the cut")
        assert "the hub's database: terminating connection" in hub.log()  # said, by whichever call met it
        assert cut and hub.process.poll() is None
        assert reader.count("d1") == 40 and reader.mark("d1", outbox.incarnation()) == 40
        journal = [(e.seq, e.id) for e in ledger.journal(limit=1000)]
        stored = [(e.seq, e.id) for e in reader.events(0, 2**40) if e.device == "d1"]
        assert sorted(stored) == journal
        assert sync.stop() == 0 and hub.stop() == 0
        assert "Traceback" not in sync.log() + hub.log()
        assert "s3cret" not in hub.log() and "PostgreSQL" in hub.log()
        assert not (site.dir / "hub-hub.sqlite").exists()  # no SQLite store beside it
    finally:
        reader.close()
        ledger.close()
