"""A reader of codes typed on a terminal or piped in: one `Read` per line, "CODE" or "CODE exit".

The demo's keyboard: what a newcomer types goes through the lane exactly as a scan would.
Lines that are not a code ("CODE nowhere", or the demo's ":commands") go to `on_other`.

stdin is read with `os.read` in a thread that polls with `select`, not with `sys.stdin`: a
thread blocked inside `sys.stdin.readline()` holds the buffer's lock, and an interpreter
that exits (Ctrl-C) while a daemon thread holds it aborts. Polling lets the thread end
when the reader closes; it also works on ttys, pipes, /dev/null and regular files alike,
where the event loop's own readers refuse regular files.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable

from gate.records import Direction
from gate.scanner.read import Read, Reader

POLL_S = 0.1  # how soon the input thread notices the reader closed
DIRECTIONS: tuple[Direction, ...] = ("entry", "exit")


def parse_line(line: str) -> tuple[str, Direction] | None:
    """("CODE", direction) for "CODE" or "CODE entry|exit"; None for anything else."""
    words = line.split()
    if len(words) == 1 and not words[0].startswith(":"):
        return words[0], "entry"
    if len(words) == 2 and words[1].lower() in DIRECTIONS and not words[0].startswith(":"):
        direction: Direction = "exit" if words[1].lower() == "exit" else "entry"
        return words[0], direction
    return None


class TypedReader(Reader):
    """Reads from a file descriptor (stdin by default) until end of input (Ctrl-D)."""

    def __init__(
        self, *, name: str = "typed", fd: int = 0, on_other: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        super().__init__(name=name, direction="entry")
        self.fd = fd
        self.on_other = on_other
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def reads(self) -> AsyncGenerator[Read, None]:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._thread = threading.Thread(target=self._pump, args=(loop, lines), name=f"typed-{self.name}", daemon=True)
        self._thread.start()
        while (line := await lines.get()) is not None:
            if not line.strip():
                continue
            parsed = parse_line(line)
            if parsed is not None:
                yield Read(parsed[0], None, self.name, parsed[1])
            elif self.on_other is not None:
                await self.on_other(line.strip())

    def _pump(self, loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
        pending = b""

        def put(item: str | None) -> None:
            try:
                loop.call_soon_threadsafe(lines.put_nowait, item)
            except RuntimeError:  # the loop closed: nobody is reading any more
                self._stop.set()

        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], POLL_S)
                chunk = os.read(self.fd, 4096) if ready else None
            except (OSError, ValueError):  # stdin closed under us: as end of input
                chunk = b""
            if chunk is None:
                continue
            if not chunk:
                if pending:
                    put(pending.decode("utf-8", "replace"))
                put(None)
                return
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                put(raw.decode("utf-8", "replace").rstrip("\r"))

    async def aclose(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2 * POLL_S + 1)
