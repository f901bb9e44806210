"""Which of a venue's hub processes publishes the log: one at a time, chosen by the store.

Several `gate hub` processes of one venue share its store on PostgreSQL and split the devices'
messages (gate/hub/group.py). Events, marks and answers need no leader: each is stored or
answered by whichever hub got the message. What must come from one hub is the log going out:
the batches on `hub/batches`, the retained head (the devices' clock check too) and remote
commands, each sent once. On PostgreSQL that hub is the one holding the venue's advisory lock
(gate/hub/pg_leader.py); the others try to take it every `CHECK_S`, and a hub whose broker
link is down lets it go, so that the devices hear one that can speak.

On SQLite the store is one hub's: `Solo` always publishes, and remembers what it sent in memory.
"""

from __future__ import annotations

from typing import Protocol

from gate.config import GateConfig
from gate.hub.group import instance
from gate.sync.link import read_secret

CHECK_S = 1.0  # how often the lock is checked (held) or tried (not)


class Leader(Protocol):
    def check(self) -> bool:
        """Whether this hub publishes the log now; tries to become the one when not (blocking)."""
        ...

    def published(self) -> int | None:
        """The newest batch a publisher noted as sent (None: not known)."""
        ...

    def note_published(self, seq: int) -> None: ...

    def close(self) -> None:
        """Stop publishing (the lock let go), until the next `check`."""
        ...


class Solo:
    """The only hub of a store (SQLite): it always publishes."""

    def check(self) -> bool:
        return True

    def published(self) -> int | None:
        return None

    def note_published(self, seq: int) -> None:
        return None

    def close(self) -> None:
        return None


def open_leader(config: GateConfig) -> Leader:
    """The venue's advisory lock when the store is PostgreSQL ([hub] dsn_file), else `Solo`."""
    if config.hub.dsn_file is None:
        return Solo()
    from gate.hub.pg_leader import AdvisoryLeader  # noqa: PLC0415 - the gate[hub] extra

    site = config.sync.site
    dsn = read_secret(config.hub.dsn_file, what="hub.dsn_file")
    return AdvisoryLeader(dsn, site, f"gate-hub-{site}-{instance(config)}")
