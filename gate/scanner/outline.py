"""A code's outline within a region, and the patch squared up to it.

A phone or a card at a lane is turned in the image plane and seen at a slant: its code is a
quadrilateral, not a rectangle. zxing-cpp finds a QR Code's corners by itself, but a PDF417's
rows tilted by a few degrees and converging by a few more (20 px of corner skew across a
300-px code) are beyond it at 2.5 pixels a module, and the region finder's edge direction is
no help there: on a noisy frame a PDF417's edges run one way too weakly to tell (measured:
a coherence of 0.4-0.55, where a clean one has 0.7-0.8) and their histogram peak is off by
several degrees.

The outline does not need the edges' direction: the pixels dense in both rising and falling
edges, joined, make the symbol's silhouette, whose four corners are the code's, skew and all.
The patch is warped so that quadrilateral becomes an upright rectangle (a 1D code's bars
and a PDF417's rows are then where the decoder scans), enlarged twice when small. When the
silhouette has no four clear corners (glare over one of them), its smallest enclosing
rectangle stands in: the turn is right, only the skew stays.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from .decoders import Gray, Point
from .regions import CELL, MIN_CELLS, SMOOTH

#: Window (px) over which edge density is counted: about three modules of a lane code.
WINDOW = 7
#: A pixel is inside the symbol when at least this share of its window is rising edges and
#: as much falling edges (the region finder's cells ask 12 % of a 4x4 cell; the same here).
DENSITY = 0.12
#: Closing joins the modules and quiet finder-pattern centres of one symbol (px); opening
#: then drops what hangs on by a thread (a stripe of the background touching it).
CLOSE, OPEN = 9, 5
#: A silhouette smaller than this (px) is no code's: the region finder's smallest region.
MIN_AREA = MIN_CELLS * CELL * CELL
#: Room around the squared-up code, as a share of its long side: its quiet zone and some of
#: what the outline cut short.
PAD = 0.25
#: Squared-up codes smaller than this (long side, px) are enlarged twice: a 2.5-px module
#: becomes 5 px, where the decoder's sampling grid lands inside modules. Three times reads
#: no more (measured) at twice the decoding time.
ENLARGE_BELOW = 400

Quad = npt.NDArray[np.float32]


def outline(patch: Gray, edge: float) -> Quad | None:
    """The four corners of the most code-like silhouette in `patch` (clockwise from the
    top-left), or None when there is none."""
    smooth = cv2.GaussianBlur(patch, (0, 0), SMOOTH)
    gx = cv2.Sobel(smooth, cv2.CV_16S, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_16S, 0, 1, ksize=3)
    rising = ((gx > edge) | (gy > edge)).astype(np.float32)
    falling = ((gx < -edge) | (gy < -edge)).astype(np.float32)
    both = np.minimum(cv2.blur(rising, (WINDOW, WINDOW)), cv2.blur(falling, (WINDOW, WINDOW)))
    dense = (both > DENSITY).view(np.uint8)
    closed = cv2.morphologyEx(dense, cv2.MORPH_CLOSE, np.ones((CLOSE, CLOSE), np.uint8))
    mask = cv2.morphologyEx(closed, cv2.MORPH_OPEN, np.ones((OPEN, OPEN), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count < 2:
        return None
    label = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[label, cv2.CC_STAT_AREA] < MIN_AREA:
        return None
    contours, _ = cv2.findContours((labels == label).view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    corners = _four_corners(hull)
    if corners is None:
        corners = np.asarray(cv2.boxPoints(cv2.minAreaRect(hull)), dtype=np.float32)
    return _ordered(corners)


def square_up(patch: Gray, corners: Quad) -> tuple[Gray, Callable[[Point], Point]]:
    """`patch` warped so `corners` become an upright rectangle with room around it; and the
    map from the result's pixels back to the patch's."""
    tl, tr, br, bl = corners
    width = (float(np.linalg.norm(tr - tl)) + float(np.linalg.norm(br - bl))) / 2
    height = (float(np.linalg.norm(bl - tl)) + float(np.linalg.norm(br - tr))) / 2
    grow = 2.0 if max(width, height) < ENLARGE_BELOW else 1.0
    w, h = width * grow, height * grow
    pad = PAD * max(w, h)
    target = np.array([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners, target)
    size = (max(1, round(w + 2 * pad)), max(1, round(h + 2 * pad)))
    warped = cv2.warpPerspective(patch, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    inverse = np.linalg.inv(matrix)

    def back(p: Point) -> Point:
        x, y, z = inverse @ np.array([p[0], p[1], 1.0])
        return (round(x / z), round(y / z)) if z else (0, 0)

    return np.asarray(warped, dtype=np.uint8), back


def _four_corners(hull: npt.NDArray[np.int32]) -> Quad | None:
    # The coarsest simplification of the hull that still has four corners: a code's
    # silhouette is a quadrilateral with its corners rounded by the closing.
    perimeter = cv2.arcLength(hull, True)
    for share in np.linspace(0.01, 0.1, 19):
        poly = cv2.approxPolyDP(hull, float(share) * perimeter, True)
        if len(poly) == 4:
            return np.asarray(poly.reshape(4, 2), dtype=np.float32)
        if len(poly) < 4:
            return None
    return None


def _ordered(corners: Quad) -> Quad:
    """Clockwise on screen from the corner nearest the frame's origin. Squared up, a code
    lies level or upright; the decoder's own 90-degree turns read either."""
    centre = corners.mean(axis=0)
    angles = np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0])
    quad = corners[np.argsort(angles)]
    return np.asarray(np.roll(quad, -int(np.argmin(quad.sum(axis=1))), axis=0), dtype=np.float32)
