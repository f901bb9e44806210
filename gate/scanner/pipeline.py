"""The lane's frame pipeline: a cheap first pass, and extra passes only when it finds nothing.

    pipeline = Pipeline(symbologies=..., roi=(x, y, w, h), max_side=640)
    reads = pipeline.read(frame)         # in a worker thread: the decoders release the GIL

1. Prepare: grayscale, crop to the region of interest, downscale to `max_side`.
2. First pass: the bare decoder on the whole frame. Most codes held up to a lane are read
   here, at the bare decoder's cost (gate adds the preparation and nothing else).
3. When it finds nothing: `find_regions` looks for code-like patches (about 1 ms). An empty
   lane has none and the frame is done. Otherwise the extra passes run, in the order of
   their reads per millisecond on lane-camera frames (bench/decode.py), each on the patches
   (or the whole frame), until one reads something:

   - ``deblur``: each patch deblurred (a Wiener filter for the lane camera's blur,
     gate.scanner.deblur), squared up to the code's outline (turned and de-skewed,
     gate.scanner.outline) and enlarged twice when small. Codes at 2.3-2.7 camera pixels a
     module, blurred by about as much, are beyond the bare decoder; deblurred, most read;
   - ``deblur-invert``: the same, light and dark swapped. zxing-cpp's try_invert reads
     dark-mode matrix codes, but measured, not a dark-mode Code 128, EAN-13 or PDF417;
   - ``level``: each patch turned so its bars are vertical, by its edges' main direction,
     and enlarged 2-3 times when small, not deblurred: a clean code held at an angle (measured,
     zxing-cpp 3.1 stops reading a Code 128 past about 20 degrees of tilt and a PDF417 past
     5-10) or far from the camera (a 1D code needs about 2 px a module);
   - ``deblur-plain``: the patch deblurred and enlarged, not squared up: where the outline
     is wrong (a striped coat beside the code, glare over a corner), a matrix code is
     better left as it is, since zxing-cpp finds its corners itself;
   - ``deblur-contrast``: the deblurred patch after local histogram equalisation (CLAHE).
     zxing-cpp's local binarizer takes any 8x8 block whose grey levels span less than 24
     for blank, so the modules of a dim screen or of the washed-out part under a reflection
     vanish; equalised, they span the whole range;
   - ``deblur-normalize``: the deblurred patch after local contrast normalisation
     (`_normalize`), against glare;
   - ``deblur-strong``: ``deblur`` with a stronger filter, for the blurriest codes;
   - ``global``: the whole frame with the global-histogram binarizer, which reads blocky or
     decorated QR Codes the local binarizer breaks up (found on the photo corpus);
   - ``contrast``: the levelled patch after CLAHE (a dim or glared code that is not blurred).

   (An adaptive-threshold pass was tried too: it read nothing CLAHE did not, on the corpus
   or on generated frames.) Three more can be asked for (`passes=`), measured and left out
   of the default because they did not earn their time (bench/decode.py, reads per
   millisecond): ``invert`` (the levelled patch, light and dark swapped: ``deblur-invert``
   reads what it did), ``denoise`` (the levelled patch smoothed, sigma 1.2) and
   ``binarize`` (the levelled patch with the global-histogram binarizer).

4. Budget: the extra passes of one frame decode at most `extra_budget` frames' worth of
   pixels. The next frames skip what ran in vain on the same regions, so a frame with a
   busy scene (a striped coat, a poster) costs a bounded time, every pass still runs within
   a few frames while a visitor holds the code up, and a new scene (the visitor steps in)
   starts with the passes that read most.

Positions are mapped back to the caller's frame (before the crop and the downscale).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .deblur import deblur
from .decoders import (
    Backend,
    BackendUnavailable,
    Decoded,
    Gray,
    Point,
    as_gray,
    backend_available,
    read_zbar,
    read_zxing,
)
from .outline import outline, square_up
from .regions import Region, find_regions
from .symbology import DEFAULT_SYMBOLOGIES, Symbology

log = logging.getLogger("gate.scanner")

#: The default extra passes, in the order of their reads per millisecond (bench/decode.py).
PASSES = (
    "deblur", "deblur-invert", "level", "deblur-plain", "deblur-contrast", "deblur-normalize", "deblur-strong",
    "global", "contrast",
)  # fmt: skip
#: Passes that can be asked for but do not run by default (measured: they did not earn their time).
OPTIONAL_PASSES = ("invert", "denoise", "binarize")
#: Gaussian sigma (px of a squared-up patch, enlarged twice) of the neighbourhood the
#: deblur-normalize pass evens out: chosen on the tune seed's frames among 4, 8 and 16.
NORMALIZE = 4.0
#: Two frames' regions are the same part of the scene when they overlap this much
#: (intersection over union): the same code held still, found again a few pixels off.
SAME_REGION = 0.5
#: A patch smaller than this on its long side is enlarged (2-3 times) before decoding.
ENLARGE_BELOW = 400
_Patch = tuple[Gray, Callable[[Point], Point]]


@dataclass(slots=True)
class PassStats:
    """How often each pass ran and read something: what docs and the bench report."""

    frames: int = 0
    first: int = 0
    gated_out: int = 0
    runs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PASSES + OPTIONAL_PASSES, 0))
    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PASSES + OPTIONAL_PASSES, 0))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PASSES + OPTIONAL_PASSES, 0.0))
    """Time spent in each pass (its patch preparation included): what yield per ms is of."""


@dataclass(frozen=True, slots=True)
class _Step:
    name: str
    region: Region | None  # None: the whole frame
    cost: int  # pixels decoded


class Pipeline:
    """Decodes lane frames; a plain synchronous object, to be called from one worker thread."""

    def __init__(
        self,
        *,
        backend: Backend = "zxing",
        symbologies: frozenset[Symbology] = DEFAULT_SYMBOLOGIES,
        roi: tuple[int, int, int, int] | None = None,
        max_side: int | None = None,
        passes: tuple[str, ...] = PASSES,
        extra_budget: float | None = 2.0,
        max_regions: int = 3,
    ) -> None:
        unknown = [name for name in passes if name not in PASSES + OPTIONAL_PASSES]
        if unknown:
            raise ValueError(f"unknown pass(es) {unknown}; known: {', '.join(PASSES + OPTIONAL_PASSES)}")
        if roi is not None and (len(roi) != 4 or roi[2] <= 0 or roi[3] <= 0 or roi[0] < 0 or roi[1] < 0):
            raise ValueError(f"region of interest must be (x, y, width, height) with a positive size, got {roi}")
        if max_side is not None and max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels, got {max_side}")
        if extra_budget is not None and extra_budget <= 0:
            raise ValueError(f"extra_budget must be positive (or None for no limit), got {extra_budget}")
        if max_regions < 1:
            raise ValueError(f"max_regions must be at least 1, got {max_regions}")
        if backend not in ("zxing", "zbar"):
            raise ValueError(f"unknown decoder backend {backend!r}; known: zxing, zbar")
        if not backend_available(backend):
            raise BackendUnavailable(f"decoder backend {backend!r} cannot load on this machine")
        self.backend: Backend = backend
        self.symbologies = frozenset(symbologies)
        self.roi = roi
        self.max_side = max_side
        # The global-histogram binarizer is a zxing-cpp option: with ZBar, whose binarizer is
        # global already, that pass would repeat the first.
        self.passes = tuple(p for p in passes if not (backend == "zbar" and p == "global"))
        self.extra_budget = extra_budget
        self.max_regions = max_regions
        self.stats = PassStats()
        # Clip 2 on 8x8 tiles: enough to lift a 10-grey-level code to the full range, not so
        # much that sensor noise turns into modules. One per pipeline: OpenCV's CLAHE object
        # keeps work buffers, so it must not be shared between threads.
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self._tried: list[_Step] = []  # steps the last frames of this scene ran in vain

    def read(self, frame: object) -> list[Decoded]:
        """The codes in one frame, positions in the frame's pixels; [] when none or unreadable."""
        gray = as_gray(frame)
        if gray is None:
            return []
        prepared, to_frame = self._prepare(gray)
        if prepared is None:
            return []
        self.stats.frames += 1
        found = self._decode(prepared)
        if found:
            self.stats.first += 1
            return [d.moved(to_frame) for d in found]
        if not self.passes:
            return []
        regions = find_regions(prepared, limit=self.max_regions)
        steps = self._steps(prepared, regions)
        if not steps:
            self.stats.gated_out += 1
            return []
        budget = None if self.extra_budget is None else self.extra_budget * prepared.size
        # While the scene holds still (a visitor holds the code up), a frame skips what the
        # last frames ran in vain on the same regions, so every pass gets its turn within a
        # few frames; once all have had it, the round starts again. A region that is gone
        # takes its steps with it: a new scene starts with the passes that read most.
        self._tried = [t for t in self._tried if any(_same_step(t, s) for s in steps)]
        todo = [s for s in steps if not any(_same_step(s, t) for t in self._tried)]
        if not todo:
            self._tried, todo = [], steps
        spent = 0
        patches: dict[tuple[Region, str], _Patch] = {}
        for index, step in enumerate(todo):
            if budget is not None and index > 0 and spent + step.cost > budget:
                return []
            spent += step.cost
            self.stats.runs[step.name] += 1
            began = time.perf_counter()
            found = self._run(step, prepared, patches)
            self.stats.seconds[step.name] += time.perf_counter() - began
            if found:
                self.stats.hits[step.name] += 1
                self._tried = []
                log.debug("read by the %s pass: %s", step.name, ", ".join(d.symbology.label for d in found))
                return [d.moved(to_frame) for d in found]
            self._tried.append(step)
        self._tried = []
        return []

    # -- preparation -------------------------------------------------------------------

    def _prepare(self, gray: Gray) -> tuple[Gray | None, Callable[[Point], Point]]:
        ox = oy = 0
        if self.roi is not None:
            x, y, w, h = self.roi
            gray = gray[y : y + h, x : x + w]
            ox, oy = x, y
            if min(gray.shape) < 8:
                return None, _identity
        factor = 1.0
        if self.max_side is not None and max(gray.shape) > self.max_side:
            factor = self.max_side / max(gray.shape)
            size = (max(1, round(gray.shape[1] * factor)), max(1, round(gray.shape[0] * factor)))
            gray = np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        gray = np.ascontiguousarray(gray)

        def to_frame(p: Point) -> Point:
            return round(p[0] / factor) + ox, round(p[1] / factor) + oy

        return gray, to_frame

    # -- passes ------------------------------------------------------------------------

    def _decode(self, image: Gray, *, global_binarizer: bool = False) -> list[Decoded]:
        if self.backend == "zbar":
            return read_zbar(image, self.symbologies)
        return read_zxing(image, self.symbologies, binarizer="global" if global_binarizer else "local")

    def _steps(self, prepared: Gray, regions: list[Region]) -> list[_Step]:
        if not regions:
            return []
        steps: list[_Step] = []
        for name in self.passes:
            if name == "global":
                grow = _enlargement(max(prepared.shape))
                steps.append(_Step(name, None, round(prepared.size * grow * grow)))
                continue
            for region in regions:
                w, h = _patch_size(region)
                steps.append(_Step(name, region, w * h))
        return steps

    def _run(self, step: _Step, prepared: Gray, patches: dict[tuple[Region, str], _Patch]) -> list[Decoded]:
        if step.region is None:
            grow = _enlargement(max(prepared.shape))
            if grow == 1.0:
                return self._decode(prepared, global_binarizer=True)
            size = (round(prepared.shape[1] * grow), round(prepared.shape[0] * grow))
            enlarged = np.asarray(cv2.resize(prepared, size, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)

            def shrink(p: Point) -> Point:
                return round(p[0] / grow), round(p[1] / grow)

            return [d.moved(shrink) for d in self._decode(enlarged, global_binarizer=True)]
        kind, transform = _PASS_PATCHES[step.name]
        if (step.region, kind) not in patches:  # the passes of one region share its patches
            patches[step.region, kind] = _MAKERS[kind](prepared, step.region)
        patch, back = patches[step.region, kind]
        if transform == "global":
            return [d.moved(back) for d in self._decode(patch, global_binarizer=True)]
        image = patch if transform == "" else self._transform(transform, patch)
        return [d.moved(back) for d in self._decode(image)]

    def _transform(self, name: str, patch: Gray) -> Gray:
        if name == "invert":
            return 255 - patch
        if name == "clahe":
            return np.asarray(self._clahe.apply(patch), dtype=np.uint8)
        if name == "normalize":
            return _normalize(patch)
        assert name == "smooth", name
        return np.asarray(cv2.GaussianBlur(patch, (0, 0), 1.2), dtype=np.uint8)


#: What each patch pass decodes: which patch of the region ("level": turned and enlarged;
#: "deblur": deblurred and squared up; "strong": the same with the strong filter; "plain":
#: deblurred and enlarged, not squared up) and what is
#: done to it before ("global": decoded with the global-histogram binarizer).
_PASS_PATCHES = {
    "deblur": ("deblur", ""),
    "deblur-invert": ("deblur", "invert"),
    "deblur-strong": ("strong", ""),
    "deblur-plain": ("plain", ""),
    "deblur-normalize": ("deblur", "normalize"),
    "deblur-contrast": ("deblur", "clahe"),
    "level": ("level", ""),
    "invert": ("level", "invert"),
    "contrast": ("level", "clahe"),
    "denoise": ("level", "smooth"),
    "binarize": ("level", "global"),
}


def _normalize(patch: Gray) -> Gray:
    """`patch` with its local mean and contrast evened out (local contrast normalisation).

    Glare washes part of a code towards white: there its modules span a few grey levels on a
    bright ground, and zxing-cpp's binarizer, which takes an 8x8 block spanning under 24 for
    blank, loses them. Each pixel is set by how far it stands from its neighbourhood's mean,
    in its neighbourhood's standard deviations (over NORMALIZE px, under two modules of a
    squared-up patch), so a washed-out stretch gets the contrast of the rest. CLAHE
    (`deblur-contrast`) does it by tiles, with a cap; this has none, and each reads codes the
    other does not (bench/decode.py).
    """
    f = patch.astype(np.float32)
    mean = cv2.GaussianBlur(f, (0, 0), NORMALIZE)
    spread = np.sqrt(cv2.GaussianBlur((f - mean) ** 2, (0, 0), NORMALIZE) + 25.0)  # 25: flat stays flat
    return np.asarray(np.clip(128 + 40 * (f - mean) / spread, 0, 255), dtype=np.uint8)


def _same_step(a: _Step, b: _Step) -> bool:
    """The same pass on the same region of the scene (found again a few pixels off)."""
    if a.name != b.name:
        return False
    if a.region is None or b.region is None:
        return a.region is b.region
    return _overlap(a.region, b.region) >= SAME_REGION


def _overlap(a: Region, b: Region) -> float:
    """Intersection over union of two regions' boxes."""
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / (a.w * a.h + b.w * b.h - w * h)


def _identity(p: Point) -> Point:
    return p


def _patch_size(region: Region) -> tuple[int, int]:
    # The margin keeps the quiet zone a decoder needs around a code whose edge the region
    # detector cut a little short.
    w, h = region.w + 2 * _margin(region), region.h + 2 * _margin(region)
    if region.linear and _tilted(region.angle):
        cos, sin = abs(math.cos(math.radians(region.angle))), abs(math.sin(math.radians(region.angle)))
        w, h = round(w * cos + h * sin), round(w * sin + h * cos)
    grow = _enlargement(max(w, h))
    return round(w * grow), round(h * grow)


def _margin(region: Region) -> int:
    return max(12, round(0.3 * max(region.w, region.h)))


def _tilted(angle: float) -> bool:
    # Within 5 degrees of level (or of upright, which the decoder's try_rotate covers) the
    # decoder reads it as is, and a rotation would only cost time.
    off = abs(angle) % 90
    return 5 < off < 85


def _enlargement(side: int) -> float:
    # At least twice: interpolating a 1D code's 1-1.5 px modules to 2-3 px is what lets the
    # decoder's scan lines find the bar edges; less barely helps.
    return 1.0 if side >= ENLARGE_BELOW else min(3.0, max(2.0, ENLARGE_BELOW / max(side, 1)))


def _level(prepared: Gray, region: Region) -> _Patch:
    """The region's patch with margin, turned level when its edges run one way, enlarged
    when small; and the map from the patch's pixels back to the prepared frame's."""
    height, width = prepared.shape
    margin = _margin(region)
    x0, y0 = max(0, region.x - margin), max(0, region.y - margin)
    x1, y1 = min(width, region.x + region.w + margin), min(height, region.y + region.h + margin)
    patch = prepared[y0:y1, x0:x1]
    ph, pw = patch.shape
    angle = region.angle if region.linear and _tilted(region.angle) else 0.0
    theta = math.radians(angle)
    cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
    out_w, out_h = pw * cos + ph * sin, pw * sin + ph * cos
    grow = _enlargement(round(max(out_w, out_h)))
    matrix = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, grow)
    matrix[0, 2] += out_w * grow / 2 - pw / 2
    matrix[1, 2] += out_h * grow / 2 - ph / 2
    size = (max(1, round(out_w * grow)), max(1, round(out_h * grow)))
    if angle == 0.0 and grow == 1.0:
        out = np.ascontiguousarray(patch)
    else:
        interpolation = cv2.INTER_CUBIC if grow > 1.0 else cv2.INTER_LINEAR
        warped = cv2.warpAffine(patch, matrix, size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
        out = np.asarray(warped, dtype=np.uint8)
    inverse = cv2.invertAffineTransform(matrix)

    def back(p: Point) -> Point:
        x = inverse[0, 0] * p[0] + inverse[0, 1] * p[1] + inverse[0, 2]
        y = inverse[1, 0] * p[0] + inverse[1, 1] * p[1] + inverse[1, 2]
        return round(x) + x0, round(y) + y0

    return out, back


def _deblurred(prepared: Gray, region: Region, *, strong: bool = False, square: bool = True) -> _Patch:
    """The region's patch with margin, deblurred, squared up to the code's outline (`square`)
    and enlarged when small; and the map from its pixels back to the prepared frame's."""
    height, width = prepared.shape
    margin = _margin(region)
    x0, y0 = max(0, region.x - margin), max(0, region.y - margin)
    x1, y1 = min(width, region.x + region.w + margin), min(height, region.y + region.h + margin)
    patch = prepared[y0:y1, x0:x1]
    corners = outline(patch, region.edge) if square else None
    if corners is None:  # the whole patch, deblurred and enlarged: it has its margin already
        grow = 2.0 if max(patch.shape) < ENLARGE_BELOW else 1.0
        size = (round(patch.shape[1] * grow), round(patch.shape[0] * grow))
        image = np.asarray(cv2.resize(deblur(patch, strong=strong), size, interpolation=cv2.INTER_CUBIC), np.uint8)
        to_patch: Callable[[Point], Point] = lambda p: (round(p[0] / grow), round(p[1] / grow))  # noqa: E731
    else:
        image, to_patch = square_up(deblur(patch, strong=strong), corners)

    def back(p: Point) -> Point:
        x, y = to_patch(p)
        return x + x0, y + y0

    return image, back


_MAKERS: dict[str, Callable[[Gray, Region], _Patch]] = {
    "level": _level,
    "deblur": _deblurred,
    "strong": lambda prepared, region: _deblurred(prepared, region, strong=True),
    "plain": lambda prepared, region: _deblurred(prepared, region, square=False),
}
