"""Serial scanners (RS-232, USB CDC-ACM) through pyserial, on a device path or a pyserial URL.

Blocking reads run in a thread and reach the event loop through `call_soon_threadsafe`;
the thread reopens the port with capped backoff when the scanner is unplugged, so the lane
sees a reader that is sometimes quiet, never one that is gone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator
from typing import Literal

import serial

from gate.backoff import Backoff
from gate.records import Direction
from gate.scanner.read import Read, Reader, as_text, split_aim

log = logging.getLogger("gate.scanner")

Terminator = Literal["cr", "lf", "crlf", "none"]
_TERMINATORS: dict[Terminator, bytes] = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
# What else scanners are commonly set to end a code with, longest first; config names where
# gate has one.
_SEEN: tuple[tuple[bytes, str], ...] = (
    (b"\r\n", 'CR LF (terminator = "crlf")'),
    (b"\n", 'LF (terminator = "lf")'),
    (b"\r", 'CR (terminator = "cr")'),
    (b"\t", "Tab (not supported: set the scanner to CR)"),
    (b"\x03", "ETX (not supported: set the scanner to CR)"),
)


def seen_terminator(pending: bytes) -> str:
    """What the scanner seems to end its codes with, from bytes that never met the configured
    terminator: the control character they end with, or none at all."""
    for mark, name in _SEEN:
        if pending.endswith(mark):
            return name
    return 'nothing (terminator = "none" reads codes ended by an idle gap)'


class LineSplitter:
    """Bytes in, complete codes out: by terminator, or by an idle gap when there is none."""

    def __init__(self, terminator: Terminator, *, max_length: int, reader: str) -> None:
        self.terminator = terminator
        self.max_length = max_length
        self.reader = reader
        self._buffer = bytearray()
        self._overlong = False

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        if self.terminator == "none":
            self._check_length()
            return []
        mark = _TERMINATORS[self.terminator]
        lines: list[bytes] = []
        while (end := self._buffer.find(mark)) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + len(mark)]
            if self._overlong:
                self._overlong = False  # the tail of a line already dropped
            elif len(line) > self.max_length:
                log.warning("reader=%s dropped an over-long read (> %d bytes)", self.reader, self.max_length)
            elif line.strip(b"\r\n"):
                lines.append(line.strip(b"\r\n"))
        self._check_length()
        return lines

    def idle(self) -> list[bytes]:
        """The pending code after an idle gap (terminator "none"), if any."""
        if self.terminator != "none" or not self._buffer:
            return []
        line, overlong = bytes(self._buffer), self._overlong
        self._buffer.clear()
        self._overlong = False
        return [] if overlong else [line]

    def unterminated(self) -> bytes | None:
        """After an idle gap: the bytes still waiting for the configured terminator, if any.

        A scanner set to another terminator (LF where the config says CR, or none at all)
        sends complete codes that never end here; the reader says so instead of staying
        silent. None with terminator "none", where an idle gap is the end of a code.
        """
        if self.terminator == "none" or not self._buffer.strip(b"\r\n"):
            return None  # an LF left after a CR terminator is no code waiting
        return bytes(self._buffer)

    def reset(self) -> None:
        """Forget a partial code: what the last connection left is half of one."""
        self._buffer.clear()
        self._overlong = False

    def _check_length(self) -> None:
        if len(self._buffer) > self.max_length:
            if not self._overlong:
                log.warning("reader=%s dropped an over-long read (> %d bytes)", self.reader, self.max_length)
            self._overlong = True
            self._buffer.clear()


class SerialReader(Reader):
    def __init__(
        self, *, name: str, direction: Direction, port: str, baudrate: int = 9600, terminator: Terminator = "cr",
        idle_timeout: float = 0.08, max_length: int = 4096, backoff: Backoff | None = None,
    ) -> None:  # fmt: skip
        super().__init__(name=name, direction=direction)
        self.port = port
        self.baudrate = baudrate
        self.idle_timeout = idle_timeout
        self._splitter = LineSplitter(terminator, max_length=max_length, reader=name)
        self._backoff = backoff or Backoff()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: asyncio.Queue[Read] = asyncio.Queue()
        self.connected = threading.Event()  # set while the port is open: for health checks

    async def reads(self) -> AsyncGenerator[Read, None]:
        if self._thread is None:
            loop = asyncio.get_running_loop()
            self._thread = threading.Thread(target=self._run, args=(loop,), name=f"serial-{self.name}", daemon=True)
            self._thread.start()
        while True:
            yield await self._queue.get()

    async def aclose(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        while not self._stop.is_set():
            try:
                with serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.02) as port:
                    self.connected.set()
                    self._backoff.reset()
                    self._splitter.reset()
                    log.info("reader=%s serial port %s open", self.name, self.port)
                    self._pump(port, loop)
            except (serial.SerialException, OSError, ValueError) as exc:
                if self._stop.is_set():
                    break
                delay = self._backoff.delay()
                log.warning("reader=%s serial port %s: %s; retrying in %.1f s", self.name, self.port, exc, delay)
                self._stop.wait(delay)
            finally:
                self.connected.clear()

    def _pump(self, port: serial.Serial, loop: asyncio.AbstractEventLoop) -> None:
        last_byte = time.monotonic()
        hinted = False  # once per connection: a scanner set wrong sends every code that way
        while not self._stop.is_set():
            chunk = port.read(port.in_waiting or 1)
            now = time.monotonic()
            if chunk:
                last_byte = now
                lines = self._splitter.feed(chunk)
            elif now - last_byte >= self.idle_timeout:
                lines = self._splitter.idle()
                pending = None if hinted else self._splitter.unterminated()
                if pending is not None:
                    hinted = True
                    log.warning(
                        "reader=%s %d byte(s) arrived without the configured terminator %s and gave no read; "
                        "the scanner ends its codes with %s",
                        self.name, len(pending), self._splitter.terminator, seen_terminator(pending),
                    )  # fmt: skip
            else:
                lines = []
            for line in lines:
                symbology, payload = split_aim(line)
                read = Read(as_text(payload), symbology, self.name, self.direction)
                loop.call_soon_threadsafe(self._queue.put_nowait, read)
