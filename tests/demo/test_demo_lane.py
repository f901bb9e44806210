"""The demo's lane in-process, without walkers and with short timeouts: passages time out and
are released (nothing consumed), staff commands lock the lane and open the fire loop, and the
walkers go through a held-open lane. Then the terminal view, on a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import cv2
import pytest

from gate.cli.context import build_demo_ledger, demo_config
from gate.demo.run import DemoOptions, run_demo
from gate.demo.typed import parse_line
from gate.demo.view import STATUS_ROWS
from gate.scanner.symbology import Symbology
from gate.scanner.synth import lane_frame, render

ROOT = Path(__file__).parents[2]


async def _until(out: io.StringIO, text: str, *, after: int = 0, timeout: float = 20.0) -> int:
    """Wait until `text` is written (after position `after`); where it ends."""
    end = asyncio.get_running_loop().time() + timeout
    while (found := out.getvalue().find(text, after)) < 0:
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"{text!r} never shown; got:\n{out.getvalue()[after:]}")
        await asyncio.sleep(0.01)
    return found + len(text)


def test_no_walkers_then_staff_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_STATE_DIR", str(tmp_path))
    config = demo_config()
    assert config.turnstile is not None
    turnstile = config.turnstile.model_copy(update={"passage_timeout_s": 0.3, "fire_clear_s": 0.1})
    config = config.model_copy(update={"turnstile": turnstile})
    build_demo_ledger(config, now=dt.datetime.now(config.site.tz), fresh=True)
    out = io.StringIO()
    read_end, write_end = os.pipe()
    options = DemoOptions(walk=False, walk_after_s=0.05, input_fd=read_end)

    async def staff() -> None:
        def type_(line: str) -> None:
            os.write(write_end, line.encode() + b"\n")

        at = await _until(out, "Your turn.")
        type_(":walk")  # visitors walk from now on
        type_("TICKET-1")
        at = await _until(out, "passage committed: 1 of 1 went through", after=at)
        type_(":mode locked")
        type_("MEMBER-1")
        at = await _until(out, "[lane_closed", after=at)
        type_(":mode normal")
        type_(":fire")
        at = await _until(out, "FIRE ALARM", after=at)
        type_("TICKET-4")  # released in the tour: it admits again, through the open lane
        at = await _until(out, "passage committed: 4 of 4 went through", after=at)
        type_(":fire")
        await _until(out, "fire alarm over", after=at)
        os.close(write_end)  # Ctrl-D

    async def scenario() -> None:
        await asyncio.wait_for(asyncio.gather(run_demo(config, options=options, out=out), staff()), 60)

    try:
        asyncio.run(scenario())
    finally:
        os.close(read_end)
    text = out.getvalue()
    tour, _, typed = text.partition("Your turn.")
    # Nobody walked: each passage timed out and its hold was released, so nothing was used.
    family = tour.split("# a family ticket: one scan admits four")[1].split("\n# ")[0]
    assert "entry relay ON: person 1 of 4 may pass" in family
    assert "passage released: nobody went through (timeout); nothing consumed, t-family" in family
    again = tour.split("# the same ticket again")[1].split("\n# ")[0]
    assert again.splitlines()[2].strip().startswith("ADMIT")
    assert "passage committed" not in tour
    # Staff commands, then walkers again.
    locked = typed.split("staff: :mode locked")[1].split("staff: :mode normal")[0]
    assert "lock output on" in locked and "mode locked" in locked and "red lamp on" in locked
    assert "relay ON" not in locked.split("MEMBER-1 at north-1:")[1]
    fire = typed.split("staff: :fire", 1)[1]
    assert "FIRE ALARM: the fire loop is open" in fire and "mode emergency" in fire
    held = fire.split("TICKET-4 at north-1:")[1]
    # Every way is held open: the family walks through without a pulse each.
    assert held.count("a visitor pushes the entry arm") == 4 and "may pass" not in held
    assert "passage committed: 4 of 4 went through (all passed" in held
    over = held.split("staff: :fire")[1]
    assert re.search(r"entry relay off, exit relay off.*\n.*fire alarm over\n.*mode normal", over), over
    assert "passages: 2 committed" in text.splitlines()[-1]


def test_a_camera_feeds_the_demo_lane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The camera the demo reads when there is one (here a video file of a ticket, as a camera
    would see it) decides through the same lane as the tour, and its visitor walks through."""
    monkeypatch.setenv("GATE_STATE_DIR", str(tmp_path))
    video = tmp_path / "camera.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 20.0, (640, 480), isColor=False)
    for seed, (code, count) in enumerate([(None, 20), (render("TICKET-1", Symbology.QR_CODE), 10), (None, 600)]):
        for _ in range(count):
            writer.write(lane_frame(code, seed=seed))
    writer.release()
    config = demo_config()
    build_demo_ledger(config, now=dt.datetime.now(config.site.tz), fresh=True)
    out = io.StringIO()
    read_end, write_end = os.pipe()
    options = DemoOptions(walk_after_s=0.05, camera=f"file:{video}", input_fd=read_end)

    async def show() -> None:
        at = await _until(out, "TICKET-1 at north-1 (from the camera reader):")
        await _until(out, "passage committed: 1 of 1 went through (all passed", after=at)
        await _until(out, "Your turn.")
        os.close(write_end)

    async def scenario() -> None:
        await asyncio.wait_for(asyncio.gather(run_demo(config, options=options, out=out), show()), 60)

    try:
        asyncio.run(scenario())
    finally:
        os.close(read_end)
    seen = out.getvalue().split("TICKET-1 at north-1 (from the camera reader):")[1]
    assert seen.splitlines()[1].strip().startswith("ADMIT") and "t-single]" in seen.splitlines()[1]
    assert "Traceback" not in out.getvalue()


def test_typed_lines() -> None:
    assert parse_line("TICKET-1") == ("TICKET-1", "entry")
    assert parse_line("  TICKET-1   exit ") == ("TICKET-1", "exit")
    assert parse_line("TICKET-1 EXIT") == ("TICKET-1", "exit")
    assert parse_line("TICKET-1 nowhere") is None
    assert parse_line(":mode free") is None
    assert parse_line("a b c") is None


def test_the_terminal_view(tmp_path: Path) -> None:
    """On a terminal: a scroll region above a status block that is redrawn, then given back."""
    rows, cols = 30, 100
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("GATE_CONFIG", "LINES", "COLUMNS")}
    env |= {"GATE_STATE_DIR": str(tmp_path), "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gate", "demo", "--tour-only", "--pace", "0", "--walk-after", "0.05"],
        stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal's other side closed: the demo has ended
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        assert process.wait(10) == 0, output.decode(errors="replace")[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    text = output.decode()
    assert f"\x1b[1;{rows - STATUS_ROWS}r" in text  # everything but the block scrolls
    block = text.rsplit(f"\x1b[{rows - STATUS_ROWS + 1};1H", 1)[1]  # the last picture of the block
    assert " lane north-1 " in block and "mode " in block and "fire loop closed" in block
    assert "relays" in block and "entry" in block and "lamps" in block and "buzzer" in block
    assert "passage" in block and "last" in block and "exit, c-jonas" in block
    assert "entry ■ ON" in text and "passage committed: 4 of 4 went through" in text
    assert text.endswith(f"\x1b[r\x1b[{rows};1H\r\n")  # the whole screen scrolls again
    assert "Traceback" not in text
