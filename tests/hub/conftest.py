"""The hub's tests reuse the sync tests' real parts: a Mosquitto per test, `gate sync` and `gate hub`
processes (tests/sync/conftest.py)."""

from tests.sync.conftest import broker, site

__all__ = ["broker", "site"]
