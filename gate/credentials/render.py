"""Signed credentials as barcode images (PNG or SVG) in QR, Aztec or PDF417.

Kept apart from verification so the decision path never imports an image library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import zxingcpp

Symbology = Literal["qr", "aztec", "pdf417"]
_FORMATS = {
    "qr": zxingcpp.BarcodeFormat.QRCode,
    "aztec": zxingcpp.BarcodeFormat.Aztec,
    "pdf417": zxingcpp.BarcodeFormat.PDF417,
}


def render(text: str, symbology: Symbology, path: Path, *, scale: int = 6) -> None:
    """Write `text` as a barcode to `path`; the suffix (.png or .svg) chooses the format."""
    barcode = zxingcpp.create_barcode(text, _FORMATS[symbology])
    suffix = path.suffix.lower()
    if suffix == ".svg":
        path.write_text(zxingcpp.write_barcode_to_svg(barcode, scale=scale), encoding="utf-8")
    elif suffix == ".png":
        image = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=scale))
        if not cv2.imwrite(str(path), image):
            raise OSError(f"cannot write {path}")
    else:
        raise ValueError(f"{path}: give a .png or .svg file name")
