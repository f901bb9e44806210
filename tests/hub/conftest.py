"""The hub's tests reuse the sync tests' real parts: a Mosquitto per test, `gate sync` and `gate hub`
processes (tests/sync/conftest.py); and a throwaway PostgreSQL, a database per test (tests/pg.py)."""

from tests.pg import pg_cluster, pg_dsn
from tests.sync.conftest import broker, site

__all__ = ["broker", "pg_cluster", "pg_dsn", "site"]
