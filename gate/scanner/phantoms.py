"""No phantom reads: a 1D payload decoded beside a stronger read of the same bars is dropped.

A 1D decoder reads a code along scan lines; each line that decodes gives a payload, and the
lines that agree make one read whose box is as thick as they are. At the ends of the bars,
where print or focus spreads them, a few lines can decode to another valid payload (the check
digit of an EAN-13 catches one wrong digit, not two). That sliver is a read of its own: the
photo corpus has one EAN-13 (`ean13-1/35.webp`) where zxing-cpp returns, beside the right
payload from a 117-px-thick read, a second one from a 3-px sliver along the same bars. A lane
must never act on it, so such a read is dropped:

two reads of the same 1D symbology with different payloads, lying along the same stretch of
the scan direction (their extents along it overlap by at least half the shorter one) and
close across it (nearer than the stronger one's length): only the stronger stays, stronger
meaning thicker (more scan lines agreed), then longer.

Matrix codes are left alone: their finder patterns and error correction give no sliver
reads, and a QR Code printed inside another one is a real design (the corpus has one, whose
expected payload is the inner, smaller code).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .symbology import Symbology

if TYPE_CHECKING:  # decoders calls this module on every read
    from .decoders import Decoded

LINEAR = frozenset({
    Symbology.CODE_128, Symbology.EAN_13, Symbology.EAN_8, Symbology.CODE_39, Symbology.CODE_93,
    Symbology.ITF, Symbology.CODABAR,
})  # fmt: skip


def without_phantoms(found: list[Decoded]) -> list[Decoded]:
    """`found` without the 1D reads that lie along a stronger read of the same symbology."""
    linear = [d for d in found if d.symbology in LINEAR]
    if len(linear) < 2:
        return found
    dropped: set[int] = set()
    ranked = sorted(linear, key=_strength, reverse=True)
    for i, strong in enumerate(ranked):
        if id(strong) in dropped:
            continue
        for weak in ranked[i + 1 :]:
            if id(weak) in dropped or weak.symbology is not strong.symbology or weak.payload == strong.payload:
                continue
            if _along(strong, weak):
                dropped.add(id(weak))
    return [d for d in found if id(d) not in dropped]


def _axes(d: Decoded) -> tuple[np.ndarray, float, float]:
    """The scan direction (unit), the read's length along it and its thickness across it."""
    tl, tr, br, bl = (np.array(p, dtype=np.float64) for p in d.position)
    along = (tr - tl + br - bl) / 2
    length = float(np.hypot(*along))
    thickness = float((np.hypot(*(bl - tl)) + np.hypot(*(br - tr))) / 2)
    unit = along / length if length > 0 else np.array([1.0, 0.0])
    return unit, length, thickness


def _strength(d: Decoded) -> tuple[float, float]:
    _, length, thickness = _axes(d)
    return thickness, length


def _along(strong: Decoded, weak: Decoded) -> bool:
    unit, length, _ = _axes(strong)
    if length <= 0:
        return False
    normal = np.array([-unit[1], unit[0]])
    a = np.array(strong.position, dtype=np.float64)
    b = np.array(weak.position, dtype=np.float64)
    a_u, b_u = a @ unit, b @ unit
    overlap = min(a_u.max(), b_u.max()) - max(a_u.min(), b_u.min())
    shorter = min(float(np.ptp(a_u)), float(np.ptp(b_u)))
    if shorter <= 0 or overlap < 0.5 * shorter:
        return False
    a_n, b_n = a @ normal, b @ normal
    gap = max(0.0, max(a_n.min(), b_n.min()) - min(a_n.max(), b_n.max()))
    return bool(gap < length) and not math.isnan(gap)
