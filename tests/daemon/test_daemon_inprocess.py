"""The daemon's task tree in-process, on the real Lane (mock pins) and a real ledger: a failing
reader restarts while the other feeds the lane, the idle checkpoint runs on the lane's ledger
thread, and a stop drains."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest

from gate.backoff import Backoff
from gate.cache import Ledger
from gate.cli import main
from gate.config import load_config
from gate.daemon.run import Daemon
from gate.daemon.systemd import Notifier
from gate.scanner.read import Read, Reader
from tests.daemon.conftest import lane_config, ledger_lines


class Scripted(Reader):
    def __init__(self, name: str, codes: list[str], *, fail: bool) -> None:
        super().__init__(name=name, direction="entry")
        self.codes, self.fail = codes, fail

    async def reads(self) -> AsyncGenerator[Read, None]:
        for code in self.codes:
            await asyncio.sleep(0.05)
            yield Read(code, None, self.name, "entry")
        if self.fail:
            raise OSError("unplugged")
        await asyncio.Event().wait()


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "gate.toml"
    flaky = {"type": "serial", "lane": "l1", "port": "/dev/null"}
    path.write_text(lane_config("/dev/null", timeout=0.2, daemon={"idle_checkpoint_s": 0.1}, readers={"flaky": flaky}))
    lines = tmp_path / "ledger.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in ledger_lines()) + "\n")
    assert main(["--config", str(path), "ledger", "import", str(lines)]) == 0
    return path


def test_the_task_tree(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    checkpoint = Ledger.checkpoint

    def recorded(self: Ledger, **kwargs: Any) -> bool:
        threads.append(threading.current_thread().name)
        return checkpoint(self, **kwargs)

    monkeypatch.setattr(Ledger, "checkpoint", recorded)
    builds = {"scan": 0, "flaky": 0}

    def build(reader_id: str, config: Any) -> Reader:
        builds[reader_id] += 1
        if reader_id == "flaky":
            return Scripted("flaky", [], fail=True)
        return Scripted("scan", ["ONE", "NOPE"], fail=False)

    async def scenario() -> tuple[dict[str, Any], Daemon]:
        daemon = Daemon(load_config(config_path), "l1", notifier=Notifier(None), build=build)
        task = asyncio.create_task(daemon.run())
        while daemon.point is None or len(daemon.point.status("l1").last_decisions) < 2 or len(threads) < 1:
            await asyncio.sleep(0.05)
        for reader in daemon.readers:
            reader.backoff = Backoff(initial=0.01, cap=0.02)
        while builds["flaky"] < 3:
            await asyncio.sleep(0.02)
        status = daemon.status()
        daemon.stop("test")
        await asyncio.wait_for(task, 10)
        return status, daemon

    status, daemon = asyncio.run(scenario())
    assert [d["verdict"] for d in status["lane"]["last_decisions"]] == ["admit", "deny"]
    readers = {r["id"]: r for r in status["readers"]}
    assert readers["scan"]["restarts"] == 0 and readers["scan"]["reads"] == 2
    assert readers["flaky"]["restarts"] >= 2 and readers["flaky"]["last_error"] == "OSError: unplugged"
    assert status["health"]["ok"]  # a failing reader is reported, not held against the daemon
    # While the lane runs, every checkpoint is on the decision point's ledger thread (the last one is the close's).
    assert threads[0].startswith("gate-ledger")
    assert all(name.startswith("gate-ledger") for name in threads[:-1]), threads
    assert not (config_path.parent / "run" / "control.sock").exists()
    assert daemon.point is None
