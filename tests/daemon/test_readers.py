"""Supervised readers: a failing reader is rebuilt with backoff, the others go on; a decision in
progress survives the shutdown of its reader."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from typing import Any

from gate.backoff import Backoff
from gate.config import SerialReaderConfig
from gate.daemon.readers import LaneFeed, SupervisedReader
from gate.scanner.read import Read, Reader


def _config(**fields: Any) -> SerialReaderConfig:
    return SerialReaderConfig.model_validate({"type": "serial", "lane": "l1", "port": "/dev/null", **fields})


class Scripted(Reader):
    """Yields its codes, then fails (or ends) as told."""

    def __init__(self, name: str, codes: list[str], *, then: str) -> None:
        super().__init__(name=name, direction="entry")
        self.codes = codes
        self.then = then
        self.connected = threading.Event()
        self.closed = False

    async def reads(self) -> AsyncGenerator[Read, None]:
        self.connected.set()
        for code in self.codes:
            await asyncio.sleep(0)
            yield Read(code, None, self.name, "entry")
        if self.then == "raise":
            raise OSError("device vanished")
        if self.then == "wait":
            await asyncio.Event().wait()

    async def aclose(self) -> None:
        self.closed = True


def test_a_failing_reader_is_rebuilt_with_backoff_while_the_other_goes_on() -> None:
    async def scenario() -> tuple[list[str], SupervisedReader, SupervisedReader, list[Scripted]]:
        seen: list[str] = []

        async def handle(read: Read) -> None:
            seen.append(f"{read.reader}:{read.data!s}")

        feed = LaneFeed(handle)
        built: list[Scripted] = []
        failed: list[str] = []

        def build(reader_id: str, config: Any) -> Reader:
            if reader_id == "bad" and len([b for b in built if b.name == "bad"]) == 2 and not failed:
                failed.append(reader_id)
                raise RuntimeError("cannot build")  # the third build itself fails once: retried too
            count = len([b for b in built if b.name == reader_id])
            reader = Scripted(reader_id, [f"{reader_id}{count}"], then="raise" if reader_id == "bad" else "wait")
            built.append(reader)
            return reader

        bad = SupervisedReader("bad", _config(), feed, build=build)
        good = SupervisedReader("good", _config(), feed, build=build)
        bad.backoff = Backoff(initial=0.01, cap=0.04)
        async with asyncio.TaskGroup() as group:
            bad.task = group.create_task(bad.run())
            good.task = group.create_task(good.run())
            while bad.restarts < 4:
                await asyncio.sleep(0.01)
            assert good.state().running and good.state().connected and good.alive
            bad.task.cancel()
            good.task.cancel()
        return seen, bad, good, built

    seen, bad, good, built = asyncio.run(scenario())
    assert [s for s in seen if s.startswith("good")] == ["good:good0"]
    assert [s for s in seen if s.startswith("bad")][:3] == ["bad:bad0", "bad:bad1", "bad:bad2"]
    assert good.restarts == 0 and good.reads == 1
    assert bad.restarts >= 4 and bad.last_error in ("OSError: device vanished", "RuntimeError: cannot build")
    assert all(r.closed for r in built if r.name == "bad")  # each failed reader was closed
    assert not bad.state().running


def test_a_decision_in_progress_outlives_its_reader() -> None:
    async def scenario() -> tuple[list[str], bool]:
        done: list[str] = []
        started = asyncio.Event()

        async def handle(read: Read) -> None:
            started.set()
            await asyncio.sleep(0.1)  # the hold being written
            done.append(str(read.data))

        feed = LaneFeed(handle)
        supervised = SupervisedReader("r", _config(), feed, build=lambda i, c: Scripted(i, ["ONE", "TWO"], then="wait"))
        task = asyncio.create_task(supervised.run())
        await started.wait()
        task.cancel()  # SIGTERM: the reader stops...
        await asyncio.gather(task, return_exceptions=True)
        await feed.drain()  # ...and the decision it started is finished
        await feed(Read("THREE", None, "r", "entry"))  # no new reads once draining
        return done, feed.busy

    done, busy = asyncio.run(scenario())
    assert done == ["ONE"] and not busy


def test_a_failing_decision_does_not_restart_the_reader() -> None:
    async def scenario() -> SupervisedReader:
        calls = 0

        async def handle(read: Read) -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError("ledger fault")

        supervised = SupervisedReader(
            "r", _config(), LaneFeed(handle), build=lambda i, c: Scripted(i, ["A", "B"], then="wait")
        )
        task = asyncio.create_task(supervised.run())
        while calls < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return supervised

    supervised = asyncio.run(scenario())
    assert supervised.restarts == 0 and supervised.reads == 2
