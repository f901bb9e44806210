"""A throwaway PostgreSQL for the hub's tests: Debian's, one cluster per test session (per xdist
worker), a fresh database per test.

Debian keeps `initdb` and `pg_ctl` under /usr/lib/postgresql/<version>/bin, off PATH: the newest
version there is used. PostgreSQL refuses to run as root, and CI is root: the cluster lives in a
folder of its own under /tmp, given to the `postgres` user the package creates (else `nobody`),
and its commands run as that user through runuser. It listens on a free loopback port (trust
authentication: nothing but loopback reaches it) and a socket in its folder, never on the
machine's own PostgreSQL. Durability is off (fsync): the cluster is gone when the session ends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync.broker import free_port

_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "50",
    "shared_buffers": "16MB",
}


def bin_dir() -> Path:
    """The newest installed PostgreSQL's programs; a clear failure when there is none."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): scripts/setup --dev")
    return found[-1].parent


class Cluster:
    """One PostgreSQL server of its own; `database()` makes a new empty database and gives its DSN."""

    def __init__(self) -> None:
        self.bin = bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="gate-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            name = "postgres" if _user_exists("postgres") else "nobody"
            user = pwd.getpwnam(name)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", name, "--"]
        self.port = 0
        self._names = itertools.count(1)

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        command = [*self._as, *args]
        done = subprocess.run(command, check=False, cwd=self.dir, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}\n{log}")

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync", "--no-instructions")  # fmt: skip
        for attempt in range(3):  # a free port can be taken by someone else before the server binds it
            self.port = free_port()
            options = " ".join(f"-c {key}={value}" for key, value in _SETTINGS.items())
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                          "-o", f"-p {self.port} -k {self.dir} {options}", "start")  # fmt: skip
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database} connect_timeout=10"

    def database(self) -> str:
        """A new, empty database: its DSN."""
        import psycopg  # noqa: PLC0415 - the hub extra, installed by scripts/setup --dev

        name = f"t{next(self._names)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # a fresh name of ours, never input
        return self.dsn(name)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            if self.port:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster: Cluster) -> str:
    """A PostgreSQL database of the test's own (a DSN: host, port, user, dbname)."""
    return pg_cluster.database()
