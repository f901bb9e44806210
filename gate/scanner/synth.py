"""Lane-like camera frames with rendered codes, for tests, the decode bench and the demo.

A real lane camera sees a phone or a card somewhere in a 640x480 frame: tilted in the image
plane, seen at a slant, a little out of focus, with sensor noise, a dark-mode screen (light
code on dark ground), a reflection washing part of it out, or a dim screen with little
contrast. `lane_frame` makes such frames deterministically from a seed, so a test can say
which impairment it checks and a bench can repeat a stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .decoders import Gray, _zxingcpp
from .symbology import ZXING_FORMATS, Symbology

FRAME_SIZE = (640, 480)


@dataclass(frozen=True, slots=True)
class Scene:
    """How a code appears in a frame. The defaults are a clean, upright, well-lit code."""

    tilt: float = 0.0
    """Rotation in the image plane, degrees (a phone held at an angle)."""
    slant: float = 0.0
    """Perspective, 0..0.4: how much narrower the far side of the code looks."""
    blur: float = 0.0
    """Gaussian blur sigma in pixels (focus, motion)."""
    noise: float = 0.0
    """Gaussian sensor noise sigma in grey levels."""
    dark: bool = False
    """Dark-mode screen: light modules on a dark ground."""
    glare: float = 0.0
    """Strength 0..1 of a reflection washing part of the code out (1: white at its centre)."""
    contrast: float = 1.0
    """Difference between dark and light modules as a share of the full grey range."""
    width: int = 200
    """Width of the code (with its quiet zone) in the frame, pixels."""
    center: tuple[float, float] = (0.5, 0.5)
    """Where the code sits, as a share of the frame's width and height."""


def render(payload: str, symbology: Symbology, *, module: int = 4) -> Gray:
    """The code for `payload` as black on white pixels with its quiet zone, `module` px a module."""
    zxingcpp = _zxingcpp()
    fmt = getattr(zxingcpp.BarcodeFormat, ZXING_FORMATS[symbology][0])
    barcode = zxingcpp.create_barcode(payload, fmt)
    image = np.asarray(barcode.to_image(scale=module), dtype=np.uint8)
    if image.shape[0] < image.shape[1] / 3:
        # A 1D code's image is a few pixels high; a printed one is about a third as high as wide.
        tall = cv2.resize(image, (image.shape[1], image.shape[1] // 3), interpolation=cv2.INTER_NEAREST)
        image = np.asarray(tall, dtype=np.uint8)
    return np.ascontiguousarray(image)


def lane_frame(
    code: Gray | None, scene: Scene | None = None, *, seed: int = 0, size: tuple[int, int] = FRAME_SIZE
) -> Gray:
    """A grayscale frame of `size` (width, height): a lane background, and `code` placed as
    `scene` says (None: an empty frame, what a lane camera sees most of the time)."""
    scene = scene or Scene()
    rng = np.random.default_rng(seed)
    width, height = size
    frame = _background(rng, width, height)
    if code is not None:
        _place(frame, code, scene, rng)
    out = frame
    if scene.blur > 0:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), scene.blur), dtype=np.float32)
    if scene.noise > 0:
        out = out + rng.normal(0.0, scene.noise, out.shape).astype(np.float32)
    return np.asarray(np.clip(out, 0, 255), dtype=np.uint8)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A lit hall: a brightness gradient, a few dark and light shapes (coats, bags, a sleeve
    with stripes), none of which is a code."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    frame = 110 + 40 * ((xs * math.cos(angle) + ys * math.sin(angle)) / max(width, height))
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        x1, y1 = x0 + int(rng.integers(40, 260)), y0 + int(rng.integers(40, 260))
        cv2.rectangle(frame, (x0, y0), (x1, y1), float(rng.uniform(30, 220)), thickness=-1)
    if rng.random() < 0.5:  # stripes: the classic false-positive bait for 1D readers
        x0, y0 = int(rng.integers(0, width - 120)), int(rng.integers(0, height - 120))
        period = int(rng.integers(6, 18))
        for x in range(x0, x0 + 120, period):
            cv2.rectangle(frame, (x, y0), (x + period // 2, y0 + 120), float(rng.uniform(20, 70)), thickness=-1)
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), 1.5), dtype=np.float32)


def _place(frame: np.ndarray, code: Gray, scene: Scene, rng: np.random.Generator) -> None:
    height, width = frame.shape
    # The screen or card around the code: light for a normal code, dark for dark mode.
    mid, half = 128.0, 127.0 * scene.contrast
    light, dark = mid + half, mid - half
    ink = code.astype(np.float32) / 255.0
    if scene.dark:
        ink = 1.0 - ink
    patch = dark + (light - dark) * ink
    margin = max(4, code.shape[1] // 12)
    ground = dark if scene.dark else light
    patch = np.asarray(
        cv2.copyMakeBorder(patch, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=ground), dtype=np.float32
    )
    ph, pw = patch.shape
    scale = scene.width / pw
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float32)
    # Target corners: scaled, narrowed on one side for the slant, rotated by the tilt.
    w, h = pw * scale, ph * scale
    shrink = scene.slant * h / 2
    corners = np.array(
        [[-w / 2, -h / 2 + shrink], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2 - shrink]], dtype=np.float32
    )
    theta = math.radians(scene.tilt)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=np.float32)
    center = np.array([scene.center[0] * width, scene.center[1] * height], dtype=np.float32)
    dst = (corners @ rot.T + center).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(patch, matrix, (width, height), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones_like(patch), matrix, (width, height), flags=cv2.INTER_LINEAR)
    frame *= 1.0 - mask
    frame += warped * mask
    if scene.glare > 0:
        # A reflection off a glossy screen: a bright veil over part of the code, which washes
        # the modules out towards white (strength 0.9: a tenth of the contrast left at its
        # centre) rather than clipping them, as a camera exposing for the screen records it.
        gx, gy = center + rng.uniform(-0.25, 0.25, 2).astype(np.float32) * np.array([w, h], dtype=np.float32)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        sigma = max(w, h) / 4
        veil = min(scene.glare, 1.0) * np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * sigma * sigma))
        frame *= 1.0 - veil
        frame += 255.0 * veil
