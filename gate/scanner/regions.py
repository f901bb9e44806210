"""The cheap gate before the expensive passes: where in a frame is there anything code-like?

A lane camera looks at an empty lane most of the time. Running every extra decoding pass on
every frame would cost several times the bare decoder; instead one look at the frame's edges
finds the patches dense in both rising and falling edges (every barcode is: dark and light
modules alternate), and the extra passes only work on those patches. An empty lane has none
(a coat's or a door's contour rises or falls once), so it costs the bare decoder plus about
a millisecond.

Each region also carries the main direction of its edges: a 1D code or a PDF417 has most of
its edges across the bars, so that direction says how far the phone is tilted, and the
pipeline turns the patch level before decoding it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .decoders import Gray

#: Sobel response (of the frame smoothed by SMOOTH) above which a pixel is an edge, at least:
#: a module step of 8 grey levels passes (a dim screen). A noisy frame raises the bar to
#: NOISE_EDGE times its own gradient noise, measured on the frame (see `find_regions`).
EDGE = 16
#: Gaussian sigma, px, of the smoothing before the edges are taken. Without it, sensor noise
#: of sigma 8-10 (a lane camera in a dim hall) makes every pixel an edge of both kinds and the
#: whole frame one region; sigma 1 halves the noise and keeps 2.3-px modules.
SMOOTH = 1.0
#: An edge must stand this many noise sigmas above the frame's gradient noise: measured on the
#: lane-camera frames (gate.scanner.lanecam, tune seed), 4 keeps every code's region and leaves
#: about 70 % of the noisy empty frames with none.
NOISE_EDGE = 4.0
#: ... but never above this: a photo of a densely textured code (corpus qrcode-2/12) measures
#: as very noisy, and its region must still be found. Sensor noise of sigma 10 gives 45.
MAX_EDGE = 64
#: The edge map is summed over cells of CELL x CELL pixels; a window is 3x3 cells.
CELL = 4
#: A window is code-like when at least this share of its pixels are rising edges AND at least
#: this share are falling edges (0..255 scale: 30 is 12%). Modules of any code give both in
#: plenty; the contour of a coat or a door gives one kind only, and noise too few of either.
BOTH_EDGES = 30
#: Smallest region kept, in cells: a code about 24 px square.
MIN_CELLS = 30


@dataclass(frozen=True, slots=True)
class Region:
    """A code-like patch of the frame, in the frame's pixel coordinates."""

    x: int
    y: int
    w: int
    h: int
    angle: float
    """Direction of the dominant edges, degrees in (-90, 90]: rotating the patch by this
    angle makes bars vertical (rows of a PDF417 horizontal)."""
    coherence: float
    """Share of the edge strength within 10 degrees of `angle`: measured about 0.85-0.95 for a
    Code 128, 0.7-0.8 for a PDF417, 0.4-0.45 for matrix codes (edges two ways at right angles)."""
    score: float
    edge: float = EDGE
    """The edge threshold the frame's noise called for: what the region's outline is drawn with."""

    @property
    def linear(self) -> bool:
        """Whether the edges run one way, like a 1D code's or a PDF417's."""
        return self.coherence >= 0.55


def find_regions(gray: Gray, *, limit: int = 3) -> list[Region]:
    """The `limit` most code-like regions of `gray`, most code-like first ([] for an empty lane).

    Edges are found at full resolution, lightly smoothed (a small 1D code's bars are a pixel or
    two wide and vanish in a downscaled copy), above a threshold that rises with the frame's
    own noise, and counted in cells, which keeps it about 1.5 ms for a 640x480 frame.
    """
    height, width = gray.shape
    if height < 3 * CELL or width < 3 * CELL:
        return []
    smooth = cv2.GaussianBlur(gray, (0, 0), SMOOTH)
    gx = cv2.Sobel(smooth, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_16S, 0, 1, ksize=3)
    edge = max(EDGE, min(MAX_EDGE, NOISE_EDGE * gradient_noise(gx)))
    # numpy, not cv2.compare: ten times faster against a scalar here.
    full = np.uint8(255)
    rising = ((gx > edge) | (gy > edge)).view(np.uint8) * full
    falling = ((gx < -edge) | (gy < -edge)).view(np.uint8) * full
    cells = (width // CELL, height // CELL)
    both = np.minimum(
        np.asarray(cv2.resize(rising, cells, interpolation=cv2.INTER_AREA), dtype=np.uint8),
        np.asarray(cv2.resize(falling, cells, interpolation=cv2.INTER_AREA), dtype=np.uint8),
    )
    mask = (np.asarray(cv2.blur(both, (3, 3))) > BOTH_EDGES).view(np.uint8)
    # Opening drops thin streaks (a single thin line has both kinds of edge side by side);
    # closing joins the wide bars and quiet finder-pattern centres of one code.
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(closed, connectivity=8)
    found: list[Region] = []
    for label in range(1, count):
        cx, cy, cw, ch, area = (int(v) for v in stats[label])
        if area < MIN_CELLS or min(cw, ch) < 2:
            continue
        x, y, w, h = cx * CELL, cy * CELL, cw * CELL, ch * CELL
        # The bars' direction from the unsmoothed patch: smoothing spreads the directions of a
        # tilted code's fine bars and would hide that it is a 1D code or a PDF417. The bar is
        # raised with the smoothing's loss (about half), so noise stays out. Every other pixel
        # is plenty.
        patch = gray[y : y + h, x : x + w]
        sx = cv2.Sobel(patch, cv2.CV_32F, 1, 0, ksize=3)[::2, ::2]
        sy = cv2.Sobel(patch, cv2.CV_32F, 0, 1, ksize=3)[::2, ::2]
        strong = (np.abs(sx) + np.abs(sy)) > max(2 * EDGE, 2 * edge)
        angle, coherence = _orientation(sx[strong], sy[strong])
        score = float(area) * float(both[cy : cy + ch, cx : cx + cw].mean())
        found.append(Region(x, y, w, h, angle, coherence, score, float(edge)))
    found.sort(key=lambda r: r.score, reverse=True)
    return found[:limit]


def gradient_noise(gx: np.ndarray) -> float:
    """The sigma of the frame's gradient noise, from its calmest parts: the mean absolute
    gradient of each cell, and the 20th percentile of those, as for a normal distribution.
    A lane frame always has smooth background, where that is the noise; a photo filled by
    its code still has quiet zones and large modules, so the code does not count as noise."""
    magnitude = np.abs(gx[::2, ::2]).astype(np.float32)
    cells = cv2.resize(magnitude, (max(1, magnitude.shape[1] // 4), max(1, magnitude.shape[0] // 4)),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    return float(np.percentile(cells, 20)) / 0.798


def _orientation(gx: np.ndarray, gy: np.ndarray) -> tuple[float, float]:
    """The strongest edge direction of a patch and the share of edge strength along it.

    A histogram of gradient directions (mod 180, weighted by strength) rather than the mean
    structure tensor: a region often takes in some of its surroundings (a stripe, a screen
    border), which would pull a mean off the bars' direction but leaves the peak where it is.
    """
    if gx.size == 0:
        return 0.0, 0.0
    strength = np.abs(gx) + np.abs(gy)
    direction = np.degrees(np.arctan2(gy, gx)) % 180.0
    hist, _ = np.histogram(direction, bins=_BINS, range=(0.0, 180.0), weights=strength)
    total = float(hist.sum())
    if total <= 0:
        return 0.0, 0.0
    # Circular smoothing over three bins, then the peak and the share within +-10 degrees.
    smooth = hist + np.roll(hist, 1) + np.roll(hist, -1)
    peak = int(np.argmax(smooth))
    width = 180.0 / _BINS
    near = sum(float(hist[(peak + k) % _BINS]) for k in range(-2, 3))
    angle = (peak + 0.5) * width
    # Refine inside the peak bin: the strength-weighted mean of the directions near it.
    offset = (direction - angle + 90.0) % 180.0 - 90.0
    close = np.abs(offset) <= 1.5 * width
    if np.any(close):
        angle += float(np.average(offset[close], weights=strength[close]))
    if angle > 90.0:
        angle -= 180.0
    return angle, near / total


_BINS = 36
