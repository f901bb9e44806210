"""The metrics tests' real parts: a lane daemon on mock pins (tests/daemon), a Mosquitto and `gate sync`
and `gate hub` processes (tests/sync)."""

from __future__ import annotations

from tests.daemon.conftest import start_daemon, venue  # noqa: F401 - a real `gate run` on mock pins
from tests.sync.conftest import broker, site  # noqa: F401 - a real broker, real sync and hub processes
