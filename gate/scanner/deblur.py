"""Undoing a lane camera's blur on a small patch, before the decoder sees it.

A code held a metre from a 640x480 camera spans 2.3-2.7 pixels a module, and the lens and
the sensor blur it by about as much again. The camera's image processor sharpens what it
delivers, but what is left still spreads each module into its neighbours: the finest module
pattern keeps a fraction of its contrast, and zxing-cpp's binarizer, which sets a threshold
per 8x8 block, cuts the narrow modules off. Enlarging or smoothing the patch does not help
(measured: smoothing makes it worse); deconvolving does.

A Wiener filter for a Gaussian blur of `SIGMA` pixels: a frequency is boosted by as much as
the blur weakened it, but never past what the noise allows (`NOISE`, the noise-to-signal
power ratio: a higher value boosts less and lets less noise through). It runs as one small
convolution kernel (the filter's own inverse transform, cut to 11x11), about 0.3 ms on a
200x150 patch; never on the whole frame, whose noise it would raise everywhere.

SIGMA and NOISE were chosen on the lane-camera generator's tune seed (gate.scanner.lanecam),
where the blur left after the camera's sharpening reads as a Gaussian of about one pixel:
reads were nearly the same for SIGMA 0.9-1.1 and NOISE 0.05-0.2, and these are the middle.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt

from .decoders import Gray

#: The Gaussian blur (pixels of the frame) the filter undoes, and the noise-to-signal power
#: ratio that bounds how far a weakened frequency may be boosted (1/NOISE at most).
SIGMA, NOISE = 1.0, 0.1
#: The strong filter, for the blurriest codes (sigma 1.4-1.6 before the camera's sharpening):
#: a wider blur undone, more noise let through.
STRONG = (1.3, 0.03)
#: The kernel's side: beyond 5 pixels out the mild filter's response is under 1 % of its peak,
#: the strong one's under 1 % past 6 and 3 % at 5.
KERNEL = 11


def deblur(patch: Gray, *, strong: bool = False) -> Gray:
    """`patch` with the lane camera's blur undone as far as its noise allows (same size)."""
    sigma, noise = STRONG if strong else (SIGMA, NOISE)
    out = cv2.filter2D(patch, -1, _kernel(sigma, noise), borderType=cv2.BORDER_REPLICATE)
    return np.asarray(out, dtype=np.uint8)


@functools.cache
def _kernel(sigma: float, noise: float) -> npt.NDArray[np.float32]:
    # The Wiener filter G / (G^2 + noise) of the Gaussian's transfer function G, sampled on a
    # 64x64 grid and brought back to space; the centre KERNEL x KERNEL of it, normalised so a
    # flat patch keeps its grey level.
    n = 64
    f = np.fft.fftfreq(n)
    gain = np.exp(-2 * np.pi**2 * sigma**2 * (f[:, None] ** 2 + f[None, :] ** 2))
    response = np.fft.fftshift(np.real(np.fft.ifft2(gain / (gain * gain + noise))))
    half, c = KERNEL // 2, n // 2
    kernel = response[c - half : c + half + 1, c - half : c + half + 1]
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)

