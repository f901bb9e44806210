"""Keyboard-wedge scanners: USB scanners that type their codes like a keyboard.

The reader opens the scanner's /dev/input/eventN itself and grabs it exclusively
(EVIOCGRAB), so the keystrokes never reach the kiosk browser. It reads the kernel's
`struct input_event` records directly: no library, and a recorded stream played into a
FIFO is decoded exactly like the device (docs/readers.md has the udev rule).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import stat
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

from gate.backoff import Backoff
from gate.records import Direction
from gate.scanner.read import Read, Reader, as_text, split_aim

log = logging.getLogger("gate.scanner")

EVENT = struct.Struct("llHHi")  # struct input_event: timeval, type, code, value
EV_KEY = 1
EVIOCGRAB = 0x40044590  # _IOW('E', 0x90, int)
PRESS, RELEASE, REPEAT = 1, 0, 2
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
KEY_ENTER, KEY_KPENTER = 28, 96

# Linux key codes (input-event-codes.h) to (unshifted, shifted) characters, US layout,
# which is what scanners emulate unless configured otherwise.
_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)",
    12: "-_", 13: "=+", 15: "\t\t", 26: "[{", 27: "]}", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|",
    51: ",<", 52: ".>", 53: "/?", 57: "  ",
    55: "**", 74: "--", 78: "++", 83: "..", 98: "//",
    71: "77", 72: "88", 73: "99", 75: "44", 76: "55", 77: "66", 79: "11", 80: "22", 81: "33", 82: "00",
}  # fmt: skip
_LETTER_ROWS = ((16, "qwertyuiop"), (30, "asdfghjkl"), (44, "zxcvbnm"))
_LETTERS = {first + i: letter for first, letters in _LETTER_ROWS for i, letter in enumerate(letters)}


class WedgeDecoder:
    """Key events in, typed codes out (Enter ends a code)."""

    def __init__(self, *, max_length: int = 4096) -> None:
        self.max_length = max_length
        self._shift = 0
        self._caps = False
        self._typed: list[str] = []

    def feed(self, type_: int, code: int, value: int) -> str | None:
        if type_ != EV_KEY:
            return None
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            self._shift = max(0, self._shift + (1 if value == PRESS else -1 if value == RELEASE else 0))
            return None
        if value != PRESS:
            return None  # releases carry nothing, and a scanner never auto-repeats on purpose
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            typed, self._typed = "".join(self._typed), []
            return typed or None
        char = self._char(code)
        if char is not None and len(self._typed) < self.max_length:
            self._typed.append(char)
        return None

    def _char(self, code: int) -> str | None:
        if code in _LETTERS:
            upper = bool(self._shift) != self._caps
            return _LETTERS[code].upper() if upper else _LETTERS[code]
        pair = _ROWS.get(code)
        if pair is None:
            return None
        return pair[1] if self._shift else pair[0]


class WedgeReader(Reader):
    def __init__(self, *, name: str, direction: Direction, device: Path, grab: bool = True,
                 backoff: Backoff | None = None) -> None:  # fmt: skip
        super().__init__(name=name, direction=direction)
        self.device = device
        self.grab = grab
        self._backoff = backoff or Backoff()
        self.connected = False

    async def reads(self) -> AsyncGenerator[Read, None]:
        while True:
            try:
                fd = await asyncio.to_thread(os.open, self.device, os.O_RDONLY)
            except OSError as exc:
                delay = self._backoff.delay()
                log.warning("reader=%s cannot open %s: %s; retrying in %.1f s", self.name, self.device, exc, delay)
                await asyncio.sleep(delay)
                continue
            try:
                self._grab(fd)
                self.connected = True
                self._backoff.reset()
                async for text in self._codes(fd):
                    symbology, payload = split_aim(text.encode("utf-8"))
                    yield Read(as_text(payload), symbology, self.name, self.direction)
            finally:
                # Closed before it is reported: whoever waits for `connected` to drop may
                # then rely on the next writer finding no stale reader to write into.
                os.close(fd)
                self.connected = False
            delay = self._backoff.delay()
            log.warning("reader=%s %s closed (unplugged?); reopening in %.1f s", self.name, self.device, delay)
            await asyncio.sleep(delay)

    def _grab(self, fd: int) -> None:
        # Only an input device can be grabbed; a FIFO of recorded events has nothing to grab.
        if self.grab and stat.S_ISCHR(os.fstat(fd).st_mode):
            fcntl.ioctl(fd, EVIOCGRAB, 1)

    async def _codes(self, fd: int) -> AsyncIterator[str]:
        decoder = WedgeDecoder()
        pending = b""
        while True:
            try:
                chunk = await asyncio.to_thread(os.read, fd, EVENT.size * 64)
            except OSError as exc:  # ENODEV when the scanner is unplugged
                log.warning("reader=%s read failed: %s", self.name, exc)
                return
            if not chunk:
                return
            pending += chunk
            whole = len(pending) - len(pending) % EVENT.size
            for _, _, type_, code, value in EVENT.iter_unpack(pending[:whole]):
                if (text := decoder.feed(type_, code, value)) is not None:
                    yield text
            pending = pending[whole:]


def record(events: list[tuple[int, int, int]]) -> bytes:
    """A recorded event stream in the device's own format (for tests and replays)."""
    return b"".join(EVENT.pack(0, 0, type_, code, value) for type_, code, value in events)


def typed(text: str) -> list[tuple[int, int, int]]:
    """The key events a US-layout scanner sends to type `text` and Enter."""
    reverse: dict[str, tuple[int, bool]] = {}
    for code, pair in _ROWS.items():
        reverse.setdefault(pair[0], (code, False))
        reverse.setdefault(pair[1], (code, True))
    for code, letter in _LETTERS.items():
        reverse[letter] = (code, False)
        reverse[letter.upper()] = (code, True)
    events: list[tuple[int, int, int]] = []
    for char in text:
        code, shift = reverse[char]
        if shift:
            events.append((EV_KEY, KEY_LEFTSHIFT, PRESS))
        events += [(EV_KEY, code, PRESS), (EV_KEY, code, RELEASE)]
        if shift:
            events.append((EV_KEY, KEY_LEFTSHIFT, RELEASE))
    return [*events, (EV_KEY, KEY_ENTER, PRESS), (EV_KEY, KEY_ENTER, RELEASE)]

