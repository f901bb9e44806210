"""Cameras: USB (V4L2 through OpenCV), Pi CSI (picamera2 where installed), or a file.

A capture thread reads frames as fast as the camera delivers them and keeps only the
newest: a decision never runs on a frame that waited in a buffer while the visitor moved on.
Decoding runs in a worker thread (the decoders release the GIL), one frame at a time, always
on the newest frame. A camera that fails to open, disappears or delivers nothing is
reopened with capped backoff; other readers are not affected.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from gate.backoff import Backoff
from gate.errors import GateError
from gate.records import Direction
from gate.scanner.pipeline import Pipeline
from gate.scanner.read import Read, Reader

log = logging.getLogger("gate.scanner")

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class CameraError(GateError):
    """A camera source that cannot be opened (yet)."""


class FrameSource(Protocol):
    def frame(self) -> np.ndarray | None:
        """The next frame, or None when the source is exhausted or lost."""

    def close(self) -> None: ...


class _Capture:
    """An OpenCV VideoCapture: a V4L2 device, or a video file played at its own frame rate."""

    def __init__(self, capture: cv2.VideoCapture, *, paced: bool) -> None:
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS) if paced else 0.0
        # A file is paced like a live camera would deliver it, so "newest frame only" behaves
        # as it does at a lane instead of decoding a whole file in a burst.
        self._period = 1.0 / fps if fps and 1 <= fps <= 240 else 0.0
        self._due = time.monotonic()

    def frame(self) -> np.ndarray | None:
        if self._period:
            self._due += self._period
            delay = self._due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        ok, image = self._capture.read()
        return image if ok else None

    def close(self) -> None:
        self._capture.release()


class _Folder:
    """An image folder, one image per frame at `fps`: for demos and tests."""

    def __init__(self, folder: Path, fps: float = 10.0) -> None:
        self._images = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        self._period = 1.0 / fps

    def frame(self) -> np.ndarray | None:
        while self._images:
            time.sleep(self._period)
            image = cv2.imread(str(self._images.pop(0)), cv2.IMREAD_GRAYSCALE)
            if image is not None:
                return np.asarray(image)
        return None

    def close(self) -> None:
        self._images.clear()


class _Picamera:
    def __init__(self, index: int) -> None:
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]  # noqa: PLC0415 - Pi only
        except ImportError as exc:
            raise CameraError("picamera2 is not installed (apt install python3-picamera2)") from exc
        self._camera: Any = Picamera2(index)
        self._camera.configure(self._camera.create_video_configuration(main={"size": (640, 480)}))
        self._camera.start()

    def frame(self) -> np.ndarray | None:
        return np.asarray(self._camera.capture_array())

    def close(self) -> None:
        self._camera.close()


def open_source(source: str) -> FrameSource:
    """A frame source from the config's `source`: /dev/videoN or N, csi:N, file:PATH."""
    if source.startswith("csi:"):
        return _Picamera(int(source[4:] or 0))
    if source.startswith("file:"):
        path = Path(source[5:])
        if path.is_dir():
            return _Folder(path)
        if not path.is_file():
            raise CameraError(f"no video file or image folder at {path}")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise CameraError(f"{path} is not a video OpenCV can read")
        return _Capture(capture, paced=True)
    device: int | str = int(source) if source.isdigit() else source
    capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
    if not capture.isOpened():
        raise CameraError(f"cannot open camera {source}")
    # One buffered frame at most: the driver must not queue frames the lane would see late.
    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return _Capture(capture, paced=False)


class CameraReader(Reader):
    def __init__(
        self, *, name: str, direction: Direction, source: str, pipeline: Pipeline, backoff: Backoff | None = None,
        stall_seconds: float = 5.0,
    ) -> None:  # fmt: skip
        super().__init__(name=name, direction=direction)
        self.source = source
        self.pipeline = pipeline
        self.stall_seconds = stall_seconds
        self._backoff = backoff or Backoff()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._newest: np.ndarray | None = None
        self._arrived: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self.frames = 0  # frames captured, for health checks
        self.decoded = 0  # frames decoded; the gap to `frames` is what "newest only" skipped
        self.connected = threading.Event()

    async def reads(self) -> AsyncGenerator[Read, None]:
        loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        if self._thread is None:
            self._thread = threading.Thread(target=self._capture, args=(loop,), name=f"camera-{self.name}", daemon=True)
            self._thread.start()
        while not self._stop.is_set():
            await self._arrived.wait()
            self._arrived.clear()
            with self._lock:
                frame, self._newest = self._newest, None
            if frame is None:
                continue
            found = await asyncio.to_thread(self.pipeline.read, frame)
            self.decoded += 1
            for code in found:
                yield Read(code.payload, code.aim, self.name, self.direction)

    async def aclose(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)

    def _capture(self, loop: asyncio.AbstractEventLoop) -> None:
        while not self._stop.is_set():
            try:
                source = open_source(self.source)
            except (CameraError, OSError, ValueError, cv2.error) as exc:
                self._pause(f"cannot open: {exc}")
                continue
            try:
                self._pump(source, loop)
            finally:
                self.connected.clear()
                source.close()
            if not self._stop.is_set():
                self._pause("delivered no frame")

    def _pump(self, source: FrameSource, loop: asyncio.AbstractEventLoop) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            frame = source.frame()
            if frame is None:
                return
            now = time.monotonic()
            if now - last > self.stall_seconds:
                log.warning("reader=%s camera stalled %.1f s", self.name, now - last)
            last = now
            if not self.connected.is_set():
                self.connected.set()
                self._backoff.reset()
                log.info("reader=%s camera %s delivering", self.name, self.source)
            with self._lock:
                self._newest = frame
            self.frames += 1
            if self._arrived is not None:
                loop.call_soon_threadsafe(self._arrived.set)

    def _pause(self, why: str) -> None:
        delay = self._backoff.delay()
        log.warning("reader=%s camera %s %s; reopening in %.1f s", self.name, self.source, why, delay)
        self._stop.wait(delay)
