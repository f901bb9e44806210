"""Cameras as video files read back through cv2.VideoCapture: codes in, reads out, newest frame
only, and a camera that is missing at first is picked up when it appears."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from gate.backoff import Backoff
from gate.scanner.camera import CameraReader
from gate.scanner.decoders import Decoded
from gate.scanner.pipeline import Pipeline
from gate.scanner.read import Read, deduplicated
from gate.scanner.symbology import Symbology
from gate.scanner.synth import Scene, lane_frame, render


def _video(path: Path, scenes: list[tuple[np.ndarray | None, Scene | None, int]], fps: float = 30.0) -> Path:
    """Write frames (code, scene, count) as an MJPG video, the way a lane camera would see them."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (640, 480), isColor=False)
    assert writer.isOpened()
    for seed, (code, scene, count) in enumerate(scenes):
        frame = lane_frame(code, scene, seed=seed)
        for _ in range(count):
            writer.write(frame)
    writer.release()
    return path


async def _collect(reader: CameraReader, want: int, timeout: float = 20.0) -> list[Read]:
    got: list[Read] = []
    stream = deduplicated(reader.reads(), window=3.0)

    async def take() -> None:
        async for read in stream:
            got.append(read)
            if len(got) == want:
                return

    try:
        await asyncio.wait_for(take(), timeout)
    finally:
        await reader.aclose()
    return got


def test_codes_in_a_video_become_one_read_each(tmp_path: Path) -> None:
    video = _video(tmp_path / "lane.avi", [
        (None, None, 10),
        (render("TICKET-1", Symbology.QR_CODE), Scene(dark=True, width=220), 20),
        (None, None, 10),
        (render("EXIT-42", Symbology.CODE_128, module=3), Scene(tilt=25, width=360), 20),
        (None, None, 10),
    ])  # fmt: skip
    reader = CameraReader(name="north-1-cam", direction="entry", source=f"file:{video}", pipeline=Pipeline())
    reads = asyncio.run(_collect(reader, want=2))
    assert [(r.data, r.symbology) for r in reads] == [("TICKET-1", "]Q1"), ("EXIT-42", "]C0")]
    assert {r.reader for r in reads} == {"north-1-cam"}


class SlowPipeline(Pipeline):
    """A decoder slower than the camera, as on a loaded Pi."""

    def read(self, frame: object) -> list[Decoded]:
        time.sleep(0.2)
        return super().read(frame)


def test_a_slow_decoder_always_works_on_the_newest_frame(tmp_path: Path) -> None:
    # Code A for one second, then code B: a decoder that fell behind must jump to B, not
    # work through a second of stale A frames first.
    old, new = render("A-OLD", Symbology.QR_CODE), render("B-NEW", Symbology.QR_CODE)
    video = _video(tmp_path / "lane.avi", [(old, None, 30), (new, None, 60)])
    reader = CameraReader(name="cam", direction="entry", source=f"file:{video}", pipeline=SlowPipeline())
    reads = asyncio.run(_collect(reader, want=2))
    assert [r.data for r in reads] == ["A-OLD", "B-NEW"]
    assert reader.decoded < reader.frames / 3


def test_a_missing_camera_is_retried_until_it_appears(tmp_path: Path) -> None:
    folder = tmp_path / "frames"

    def plug_in_later() -> None:
        time.sleep(0.5)
        staging = tmp_path / "staging"
        staging.mkdir()
        cv2.imwrite(str(staging / "0001.png"), lane_frame(render("LATE-7", Symbology.AZTEC), Scene(width=180)))
        staging.rename(folder)

    threading.Thread(target=plug_in_later).start()
    reader = CameraReader(name="cam", direction="exit", source=f"file:{folder}", pipeline=Pipeline(),
                          backoff=Backoff(initial=0.05, cap=0.2))  # fmt: skip
    reads = asyncio.run(_collect(reader, want=1))
    assert [(r.data, r.symbology, r.direction) for r in reads] == [("LATE-7", "]z0", "exit")]


def test_a_lane_video_with_every_impairment_reads_every_visitor(tmp_path: Path) -> None:
    # One visitor after another, as a lane camera sees them: half a second each, empty frames between.
    visitors = [
        ("BLUR-1", Symbology.QR_CODE, 4, Scene(blur=1.0, noise=4)),
        ("TILT-2", Symbology.PDF417, 2, Scene(tilt=30, width=320)),
        ("SLANT-3", Symbology.AZTEC, 4, Scene(tilt=12, slant=0.3)),
        ("DARK-4", Symbology.CODE_128, 2, Scene(dark=True, width=300)),
        ("GLARE-5", Symbology.DATA_MATRIX, 5, Scene(glare=0.97, width=200)),
        ("DIM-6", Symbology.QR_CODE, 4, Scene(contrast=0.1, noise=2)),
    ]
    scenes: list[tuple[np.ndarray | None, Scene | None, int]] = [(None, None, 8)]
    for text, symbology, module, scene in visitors:
        scenes += [(render(text, symbology, module=module), scene, 15), (None, None, 8)]
    video = _video(tmp_path / "day.avi", scenes)
    reader = CameraReader(name="cam", direction="entry", source=f"file:{video}", pipeline=Pipeline())
    reads = asyncio.run(_collect(reader, want=len(visitors), timeout=30))
    assert [r.data for r in reads] == [text for text, *_ in visitors]
    assert [r.symbology for r in reads] == [s.value for _, s, _, _ in visitors]
