"""Keyboard-wedge scanners: recorded key events decoded as the device's own byte stream."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from gate.backoff import Backoff
from gate.scanner.read import Read
from gate.scanner.wedge import (
    EV_KEY,
    KEY_CAPSLOCK,
    KEY_ENTER,
    KEY_LEFTSHIFT,
    PRESS,
    RELEASE,
    REPEAT,
    WedgeDecoder,
    WedgeReader,
    record,
    typed,
)


def _decode(events: list[tuple[int, int, int]]) -> list[str]:
    decoder = WedgeDecoder()
    return [text for event in events if (text := decoder.feed(*event)) is not None]


def test_letters_digits_symbols_and_shift() -> None:
    code = "GT1.venue_2026.aB-9+/=~!@#$%^&*()[]{};:'\",<>?|`\\"
    assert _decode(typed(code)) == [code]
    assert _decode(typed("abc") + typed("XYZ")) == ["abc", "XYZ"]


def test_caps_lock_repeats_sync_events_and_empty_enters() -> None:
    a = 30
    events = [
        (EV_KEY, KEY_CAPSLOCK, PRESS), (EV_KEY, KEY_CAPSLOCK, RELEASE),
        (EV_KEY, a, PRESS), (EV_KEY, a, REPEAT), (EV_KEY, a, RELEASE),
        (EV_KEY, KEY_LEFTSHIFT, PRESS), (EV_KEY, a, PRESS), (EV_KEY, a, RELEASE), (EV_KEY, KEY_LEFTSHIFT, RELEASE),
        (0, 0, 0), (4, 4, 458756),  # EV_SYN and EV_MSC events interleave real streams
        (EV_KEY, KEY_ENTER, PRESS), (EV_KEY, KEY_ENTER, PRESS),
    ]  # fmt: skip
    assert _decode(events) == ["Aa"]


def test_a_recorded_stream_through_the_reader_and_a_reconnect(tmp_path: Path) -> None:
    device = tmp_path / "event-scanner"
    os.mkfifo(device)

    def play(*codes: str, split: int = 7) -> None:
        # Written in odd-sized pieces: the reader must reassemble 24-byte events.
        data = b"".join(record(typed(code)) for code in codes)
        with device.open("wb") as fifo:
            for i in range(0, len(data), split):
                fifo.write(data[i : i + split])
                fifo.flush()

    async def scenario() -> list[Read]:
        reader = WedgeReader(name="kiosk-wedge", direction="entry", device=device,
                             backoff=Backoff(initial=0.05, cap=0.1))  # fmt: skip
        reads = reader.reads()
        got: list[Read] = []
        first = threading.Thread(target=play, args=("]C0TICKET-1", "member 7"))
        first.start()
        got += [await asyncio.wait_for(anext(reads), 30) for _ in range(2)]
        await asyncio.to_thread(first.join, 30)
        # The FIFO's writer closed: as for an unplugged scanner, the reader reopens the device.
        # The next stream is played only once the reader has let go of the old one, as a
        # scanner plugged back in can only be seen after the unplug was noticed.
        following = asyncio.ensure_future(anext(reads))
        async with asyncio.timeout(30):
            while reader.connected:
                await asyncio.sleep(0.01)
        threading.Thread(target=play, args=("AFTER",)).start()
        got.append(await asyncio.wait_for(following, 30))
        await reads.aclose()
        return got

    reads = asyncio.run(scenario())
    assert [(r.data, r.symbology) for r in reads] == [("TICKET-1", "]C0"), ("member 7", None), ("AFTER", None)]
    assert {r.reader for r in reads} == {"kiosk-wedge"}
