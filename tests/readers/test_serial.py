"""Serial scanners on a pty pair: codes, AIM prefixes, binary payloads, junk, unplug and replug."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from gate.backoff import Backoff
from gate.scanner.read import Read
from gate.scanner.serial import SerialReader, Terminator


class Scanner:
    """A pty pair standing in for a scanner on a fixed device path (a symlink, like a udev alias)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        self.path.unlink(missing_ok=True)
        self.path.symlink_to(os.ttyname(self.slave))

    def unplug(self) -> None:
        os.close(self.master)
        os.close(self.slave)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)


async def _connected(reader: SerialReader, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not reader.connected.is_set():
        assert time.monotonic() < deadline, "reader never opened the port"
        await asyncio.sleep(0.01)


async def _next(reads: AsyncIterator[Read]) -> Read:
    return await asyncio.wait_for(anext(reads), 30)


def _reader(path: Path, terminator: Terminator = "cr", **kw: object) -> SerialReader:
    return SerialReader(name="north-1-in", direction="entry", port=str(path), terminator=terminator,
                        backoff=Backoff(initial=0.05, cap=0.2), **kw)  # type: ignore[arg-type]


def test_codes_arrive_with_their_symbology_and_binary_stays_binary(tmp_path: Path) -> None:
    scanner = Scanner(tmp_path / "ttyScanner")

    async def scenario() -> list[Read]:
        async with _reader(scanner.path, max_length=64) as reader:
            reads = reader.reads()
            first = asyncio.ensure_future(_next(reads))
            await _connected(reader)
            scanner.send(b"]Q1MEMBER-1\r")
            got = [await first]
            scanner.send(b"\xff\xfe\x00\x01\r" + b"x" * 200 + b"\rTICK")
            got.append(await _next(reads))
            scanner.send(b"ET-9\r")  # split across writes, after an over-long line was dropped
            got.append(await _next(reads))
            return got

    member, binary, ticket = asyncio.run(scenario())
    assert (member.data, member.symbology, member.reader, member.direction) == (
        "MEMBER-1", "]Q1", "north-1-in", "entry")
    assert binary.data == b"\xff\xfe\x00\x01"
    assert (ticket.data, ticket.symbology) == ("TICKET-9", None)
    scanner.unplug()


def test_crlf_and_idle_terminated_scanners(tmp_path: Path) -> None:
    scanner = Scanner(tmp_path / "ttyScanner")

    async def scenario(terminator: Terminator, data: bytes) -> str | bytes:
        async with _reader(scanner.path, terminator) as reader:
            reads = reader.reads()
            pending = asyncio.ensure_future(_next(reads))
            await _connected(reader)
            scanner.send(data)
            return (await pending).data

    assert asyncio.run(scenario("crlf", b"\r\nABC\r\n")) == "ABC"
    assert asyncio.run(scenario("none", b"NO-TERMINATOR")) == "NO-TERMINATOR"
    scanner.unplug()


def test_an_unplugged_scanner_is_reopened_when_it_comes_back(tmp_path: Path) -> None:
    scanner = Scanner(tmp_path / "ttyScanner")

    async def scenario() -> tuple[str | bytes, str | bytes]:
        async with _reader(scanner.path) as reader:
            reads = reader.reads()
            pending = asyncio.ensure_future(_next(reads))
            await _connected(reader)
            scanner.send(b"BEFORE\r")
            before = (await pending).data
            scanner.unplug()
            deadline = time.monotonic() + 30
            while reader.connected.is_set():
                assert time.monotonic() < deadline, "unplug went unnoticed"
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)  # a few failed reopen attempts while nothing is there
            scanner.plug()
            await _connected(reader)
            scanner.send(b"AFTER\r")
            return before, (await _next(reads)).data

    assert asyncio.run(scenario()) == ("BEFORE", "AFTER")
    scanner.unplug()


def _hints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "without the configured terminator" in r.getMessage()]


async def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never met"
        await asyncio.sleep(0.01)


def test_a_scanner_set_to_another_terminator_is_named_once_per_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Configured CR, the scanner sends LF: no read (nothing ends a code), but one log line
    per connection says which terminator the scanner uses, instead of silence."""
    caplog.set_level(logging.WARNING, logger="gate.scanner")
    scanner = Scanner(tmp_path / "ttyScanner")

    async def scenario() -> bool:
        async with _reader(scanner.path, "cr") as reader:
            pending = asyncio.ensure_future(_next(reader.reads()))
            await _connected(reader)
            scanner.send(b"MEMBER-1\n")
            await _until(lambda: len(_hints(caplog)) == 1)
            scanner.send(b"MEMBER-2\n")
            await asyncio.sleep(0.3)  # several idle gaps: still the one line
            assert len(_hints(caplog)) == 1
            scanner.unplug()
            await _until(lambda: not reader.connected.is_set())
            scanner.plug()
            await _connected(reader)
            scanner.send(b"MEMBER-3\n")
            await _until(lambda: len(_hints(caplog)) == 2)
            read = pending.done()
            pending.cancel()
            return read

    assert asyncio.run(scenario()) is False  # no read: an LF never ends a code here
    for hint in _hints(caplog):
        assert "reader=north-1-in" in hint and "terminator cr" in hint and 'LF (terminator = "lf")' in hint
        assert "MEMBER" not in hint  # a payload is a credential: never in the log
    scanner.unplug()


@pytest.mark.parametrize(
    ("configured", "sent", "named"),
    [("lf", b"TICKET-9", 'nothing (terminator = "none"'), ("lf", b"TICKET-9\r", 'CR (terminator = "cr")'),
     ("cr", b"TICKET-9\t", "Tab")],
)
def test_the_terminator_the_scanner_sends_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, configured: Terminator, sent: bytes, named: str
) -> None:
    caplog.set_level(logging.WARNING, logger="gate.scanner")
    scanner = Scanner(tmp_path / "ttyScanner")

    async def scenario() -> None:
        async with _reader(scanner.path, configured) as reader:
            pending = asyncio.ensure_future(_next(reader.reads()))
            await _connected(reader)
            scanner.send(sent)
            await _until(lambda: len(_hints(caplog)) == 1)
            pending.cancel()

    asyncio.run(scenario())
    (hint,) = _hints(caplog)
    assert f"terminator {configured}" in hint and named in hint
    scanner.unplug()


def test_a_crlf_scanner_read_as_cr_reads_and_gives_no_hint(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The LF left after each CR is no code waiting: no hint for a scanner that works.
    caplog.set_level(logging.WARNING, logger="gate.scanner")
    scanner = Scanner(tmp_path / "ttyScanner")

    async def scenario() -> str | bytes:
        async with _reader(scanner.path, "cr") as reader:
            pending = asyncio.ensure_future(_next(reader.reads()))
            await _connected(reader)
            scanner.send(b"MEMBER-1\r\n")
            data = (await pending).data
            await asyncio.sleep(0.3)
            return data

    assert asyncio.run(scenario()) == "MEMBER-1"
    assert _hints(caplog) == []
    scanner.unplug()
