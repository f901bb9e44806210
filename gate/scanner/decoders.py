"""One function from a grayscale image to the codes in it, whatever library reads them.

Backends: zxing-cpp (default; reads every Wallet pass format) and pyzbar (optional; ZBar reads
no Aztec, PDF417 or Data Matrix and needs the system libzbar0). Both release the GIL while they
work (zxing-cpp's binding does so explicitly, pyzbar calls libzbar through ctypes), so a lane
decodes in a worker thread while its event loop goes on.

A backend's failure on one image is logged and read as "nothing here": pyzbar 0.1.9 raises
ValueError on some images (an orientation value it does not know), and a lane must not stop
because of one odd frame. Input that can never be an image (wrong dtype, wrong shape) is the
caller's bug and raises a clear TypeError/ValueError instead.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from gate.errors import GateError

from .phantoms import without_phantoms
from .symbology import DEFAULT_SYMBOLOGIES, ZBAR_SYMBOLOGY, ZBAR_TYPES, ZXING_FORMATS, ZXING_SYMBOLOGY, Symbology

log = logging.getLogger("gate.scanner")

Gray = npt.NDArray[np.uint8]
Backend = Literal["zxing", "zbar"]
Point = tuple[int, int]
Binarizer = Literal["local", "global", "fixed"]

#: Smaller than this on either side no decoder finds anything; skipping the call also keeps
#: degenerate crops of a region of interest away from the native code.
MIN_SIDE = 8


@dataclass(frozen=True, slots=True)
class Decoded:
    """One code found in one image.

    `payload` is text when the code carries text (decoded as its ECI or the decoder's guess
    says), and the raw bytes when it carries binary data that is not valid UTF-8: a signed
    credential or a Latin-1 blob must reach the credentials layer unmangled.
    """

    payload: str | bytes
    symbology: Symbology
    aim: str
    """The full AIM identifier the decoder reported (``]Q3`` is a GS1 QR Code)."""
    position: tuple[Point, Point, Point, Point]
    """Corners in image pixels: top-left, top-right, bottom-right, bottom-left of the code."""

    @property
    def text(self) -> str | None:
        return self.payload if isinstance(self.payload, str) else None

    @property
    def payload_bytes(self) -> bytes:
        return self.payload.encode("utf-8") if isinstance(self.payload, str) else self.payload

    def moved(self, transform: Callable[[Point], Point]) -> Decoded:
        """The same code with its corners mapped, e.g. from a crop back to the whole frame."""
        a, b, c, d = (transform(p) for p in self.position)
        return dataclasses.replace(self, position=(a, b, c, d))


class BackendUnavailable(GateError, RuntimeError):
    """The chosen backend cannot run here (library or system package missing)."""


def as_gray(image: object) -> Gray | None:
    """The image as a contiguous 2-D uint8 array, or None when it is too small to hold a code.

    3 channels are taken as BGR and 4 as BGRA (OpenCV's order, what a camera frame is). Any
    other dtype or shape raises, because no frame source produces it: it is a caller's bug.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got dtype {image.dtype}")
    array: npt.NDArray[np.uint8] = image
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] in (3, 4):
        if min(array.shape[:2]) < MIN_SIDE:
            return None
        code = cv2.COLOR_BGR2GRAY if array.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        array = np.asarray(cv2.cvtColor(np.ascontiguousarray(array), code), dtype=np.uint8)
    if array.ndim != 2:
        raise ValueError(f"expected a grayscale (H, W) or BGR (H, W, 3) image, got shape {image.shape}")
    if min(array.shape) < MIN_SIDE:
        return None
    return np.ascontiguousarray(array)


def decode(
    gray: object,
    *,
    backend: Backend = "zxing",
    symbologies: frozenset[Symbology] = DEFAULT_SYMBOLOGIES,
) -> list[Decoded]:
    """Every code of the wanted symbologies in `gray`, read once with the backend's defaults.

    Never raises for an image a decoder dislikes (it is logged and gives []); raises
    TypeError/ValueError for input that is not an image, BackendUnavailable for a backend that
    is not installed.
    """
    image = as_gray(gray)
    if image is None or not symbologies:
        return []
    if backend == "zxing":
        return read_zxing(image, symbologies)
    if backend == "zbar":
        return read_zbar(image, symbologies)
    raise ValueError(f"unknown decoder backend {backend!r}; known: zxing, zbar")


def read_zxing(
    gray: Gray,
    symbologies: frozenset[Symbology],
    *,
    binarizer: Binarizer = "local",
    try_invert: bool = True,
    try_rotate: bool = True,
    try_downscale: bool = True,
) -> list[Decoded]:
    """zxing-cpp on a prepared grayscale image, with the knobs the pipeline's passes turn."""
    zxingcpp = _zxingcpp()
    formats = _zxing_formats(symbologies)
    if not formats:
        return []
    try:
        found = zxingcpp.read_barcodes(
            gray,
            formats=formats,
            try_rotate=try_rotate,
            try_downscale=try_downscale,
            try_invert=try_invert,
            # Plain, not the default HRI: the lane wants what a hardware scanner transmits
            # (GS1 with its GS separators, not "(01)..." with brackets added for humans).
            text_mode=zxingcpp.TextMode.Plain,
            binarizer=_zxing_binarizer(binarizer),
        )
    except Exception as exc:
        _log_failure("zxing", exc)
        return []
    out: list[Decoded] = []
    for barcode in found:
        symbology = ZXING_SYMBOLOGY.get(barcode.format.name)
        if symbology is None or symbology not in symbologies:
            continue
        if symbology is Symbology.PDF417 and _spent(barcode) and not _confirmed(gray, barcode, binarizer):
            log.debug("a PDF417 read with no error correction to spare, not confirmed: dropped")
            continue
        binary = barcode.content_type in (zxingcpp.ContentType.Binary, zxingcpp.ContentType.UnknownECI)
        payload = _text_or_bytes(bytes(barcode.bytes)) if binary else str(barcode.text)
        pos = barcode.position
        corners = (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
        a, b, c, d = ((int(p.x), int(p.y)) for p in corners)
        aim = str(barcode.symbology_identifier) or symbology.value
        out.append(Decoded(payload, symbology, aim, (a, b, c, d)))
    return without_phantoms(out)


def _spent(barcode: Any) -> bool:
    """Whether a read used up all of its error correction (zxing-cpp's "UEC", the share left
    unused, is 0). Measured on lane-camera frames: both PDF417 misreads (a valid-looking
    payload that is not the code's) were such reads, among 8 right ones."""
    extra = barcode.extra if isinstance(barcode.extra, dict) else {}
    unused = extra.get("UEC")
    return isinstance(unused, (int, float)) and unused <= 0.0


def _confirmed(gray: Gray, barcode: Any, binarizer: Binarizer) -> bool:
    """A read with no error correction to spare stands only when a second look, with the
    other binarizer, finds the same payload: a miscorrection does not repeat, a code does."""
    zxingcpp = _zxingcpp()
    other: Binarizer = "global" if binarizer == "local" else "local"
    try:
        again = zxingcpp.read_barcodes(
            gray, formats=barcode.format, try_rotate=True, try_downscale=True, try_invert=True,
            text_mode=zxingcpp.TextMode.Plain, binarizer=_zxing_binarizer(other),
        )  # fmt: skip
    except Exception as exc:
        _log_failure("zxing", exc)
        return False
    return any(bytes(b.bytes) == bytes(barcode.bytes) for b in again)


def read_zbar(gray: Gray, symbologies: frozenset[Symbology]) -> list[Decoded]:
    """pyzbar on a prepared grayscale image; any exception it raises becomes [] and a log line."""
    pyzbar = _pyzbar()
    wanted = sorted(symbologies, key=lambda s: s.value)
    symbols = [pyzbar.ZBarSymbol[name] for sym in wanted for name in ZBAR_TYPES.get(sym, ())]
    if not symbols:
        return []
    try:
        found = pyzbar.decode(gray, symbols=symbols)
    except Exception as exc:
        _log_failure("zbar", exc)
        return []
    out: list[Decoded] = []
    for symbol in found:
        symbology = ZBAR_SYMBOLOGY.get(str(symbol.type))
        if symbology is None or symbology not in symbologies:
            continue
        a, b, c, d = _corners([(int(p.x), int(p.y)) for p in symbol.polygon])
        out.append(Decoded(_text_or_bytes(bytes(symbol.data)), symbology, symbology.value, (a, b, c, d)))
    return without_phantoms(out)


def backend_available(backend: Backend) -> bool:
    """Whether `backend` can run here; a lane checks this at start, not on its first frame."""
    try:
        _zxingcpp() if backend == "zxing" else _pyzbar()
    except BackendUnavailable:
        return False
    return True


def _corners(points: list[Point]) -> tuple[Point, Point, Point, Point]:
    """ZBar's outline (4 points in its own order for a QR Code, many for a 1D code) as the
    corners zxing-cpp reports: top-left, top-right, bottom-right, bottom-left."""
    if not points:
        return (0, 0), (0, 0), (0, 0), (0, 0)
    box = cv2.boxPoints(cv2.minAreaRect(np.array(points, dtype=np.float32)))
    cx, cy = float(box[:, 0].mean()), float(box[:, 1].mean())
    # Clockwise on screen (y down) is increasing atan2; start from the corner nearest the origin.
    ordered = sorted(box.tolist(), key=lambda q: math.atan2(q[1] - cy, q[0] - cx))
    first = min(range(4), key=lambda i: ordered[i][0] + ordered[i][1])
    a, b, c, d = ((round(q[0]), round(q[1])) for q in ordered[first:] + ordered[:first])
    return a, b, c, d


def _text_or_bytes(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


@functools.cache
def _zxingcpp() -> Any:
    try:
        import zxingcpp  # noqa: PLC0415 - the native library loads on first use, not on import of gate
    except ImportError as exc:
        raise BackendUnavailable(f"zxing-cpp is not installed ({exc}); pip install zxing-cpp") from exc
    return zxingcpp


@functools.cache
def _pyzbar() -> Any:
    try:
        from pyzbar import pyzbar  # noqa: PLC0415 - optional backend, needs the system libzbar0
    except ImportError as exc:
        hint = "apt-get install libzbar0 and pip install pyzbar"
        raise BackendUnavailable(f"pyzbar cannot load ({exc}); {hint}") from exc
    return pyzbar


@functools.cache
def _zxing_formats(symbologies: frozenset[Symbology]) -> tuple[Any, ...]:
    module = _zxingcpp()
    return tuple(getattr(module.BarcodeFormat, name) for sym in symbologies for name in ZXING_FORMATS.get(sym, ()))


def _zxing_binarizer(name: Binarizer) -> Any:
    binarizers = _zxingcpp().Binarizer
    if name == "global":
        return binarizers.GlobalHistogram
    return binarizers.FixedThreshold if name == "fixed" else binarizers.LocalAverage


_failures: dict[str, int] = {}


def _log_failure(backend: str, exc: Exception) -> None:
    # A camera can show the same troublesome scene for minutes: log the 1st, 2nd, 4th, 8th...
    # failure, so the log says it keeps happening without a line per frame.
    count = _failures[backend] = _failures.get(backend, 0) + 1
    if count & (count - 1) == 0:
        log.warning("%s decoder failed on an image (%d so far), read as no code: %r", backend, count, exc)
    else:
        log.debug("%s decoder failed on an image: %r", backend, exc)
