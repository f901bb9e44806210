"""The deblur passes' parts: undoing a lane camera's blur, and squaring a code up to its outline."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import zxingcpp

from gate.scanner import Symbology, lanecam
from gate.scanner.deblur import deblur
from gate.scanner.decoders import Gray, read_zxing
from gate.scanner.outline import outline
from gate.scanner.pipeline import _deblurred, _level
from gate.scanner.regions import find_regions
from gate.scanner.symbology import DEFAULT_SYMBOLOGIES

Skew = tuple[tuple[float, float], ...]
#: Corner moves (shares of the largest, lanecam.Shot.skew): nearly square, and a phone at a slant.
SQUARE: Skew = ((0.2, -0.2), (-0.2, 0.2), (0.2, 0.2), (-0.2, -0.2))
SLANT: Skew = ((0.5, -0.8), (-0.6, 0.7), (0.8, 0.4), (-0.3, -0.9))


def _held_up(symbology: Symbology, payload: str, *, blur: float, tilt: float, skew: Skew, index: int) -> Gray:
    """A lane-camera frame of one code at 2.5 px a module, noise 9, a card at contrast 0.9."""
    shot = dataclasses.replace(
        lanecam.shots(lanecam.TUNE_SEED, 1)[0], index=index, symbology=symbology, payload=payload, module=2.5,
        blur=blur, noise=9.0, skew=skew, tilt=tilt, contrast=0.9, glare=0.0, dark=False, jpeg=60,
        center=(320.0, 240.0),
    )  # fmt: skip
    return lanecam.make(shot, seed=7)


def _reads(image: Gray, payload: str) -> bool:
    return payload in [d.payload for d in read_zxing(image, DEFAULT_SYMBOLOGIES)]


def test_deblurring_gives_blurred_modules_their_contrast_back_and_not_the_noise() -> None:
    # Alternate dark and light modules of 2.5 px (drawn at 8x, then averaged down), blurred by
    # 1 px: the finest pattern of a code as a lane camera sees it.
    bars = np.repeat(np.tile([60.0, 190.0], 40), 20)[None, :].repeat(80, axis=0)
    modules = cv2.resize(bars, (bars.shape[1] // 8, 10), interpolation=cv2.INTER_AREA)
    blurred = np.asarray(cv2.GaussianBlur(modules, (0, 0), 1.0), dtype=np.uint8)
    swing = float(np.ptp(blurred[5, 20:60]))  # measured: 68 of the 130 drawn
    for strong in (False, True):
        assert float(np.ptp(deblur(blurred, strong=strong)[5, 20:60].astype(float))) > 1.5 * swing
    # Sensor noise is not what it boosts (measured: sigma 8.9 in, 8.2 and 9.4 out), and a flat
    # patch keeps its grey level.
    noise = np.clip(128 + np.random.default_rng(1).normal(0, 9, (200, 200)), 0, 255).astype(np.uint8)
    for strong in (False, True):
        assert deblur(noise, strong=strong).std() < 1.15 * noise.std()
    assert np.all(deblur(np.full((40, 50), 117, np.uint8)) == 117)


@pytest.mark.parametrize("index", [1, 2, 3])
def test_a_blurred_code_reads_deblurred_where_enlarging_it_does_not(index: int) -> None:
    payload = "GATE-T-445566"
    image = _held_up(Symbology.AZTEC, payload, blur=1.4, tilt=3.0, skew=SQUARE, index=index)
    assert payload not in [b.text for b in zxingcpp.read_barcodes(image)]
    regions = find_regions(image)
    assert not any(_reads(_level(image, r)[0], payload) for r in regions)  # enlarged 2-3x
    assert any(_reads(_deblurred(image, r, square=False)[0], payload) for r in regions)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_a_turned_and_skewed_pdf417_reads_squared_up_where_turning_it_does_not(index: int) -> None:
    payload = "GATE-T-000123"
    image = _held_up(Symbology.PDF417, payload, blur=1.2, tilt=12.0, skew=SLANT, index=index)
    assert payload not in [b.text for b in zxingcpp.read_barcodes(image)]
    regions = find_regions(image)
    assert not any(_reads(_level(image, r)[0], payload) for r in regions)  # turned by its edges
    assert not any(_reads(_deblurred(image, r, square=False)[0], payload) for r in regions)
    found = [d for r in regions for d in read_zxing(_deblurred(image, r)[0], DEFAULT_SYMBOLOGIES)]
    assert [d.payload for d in found] == [payload]


def test_a_patch_with_nothing_code_like_has_no_outline() -> None:
    rng = np.random.default_rng(7)
    noise = np.clip(128 + rng.normal(0, 9, (120, 160)), 0, 255).astype(np.uint8)
    smooth = np.asarray(cv2.GaussianBlur(noise, (0, 0), 1.0), dtype=np.uint8)
    assert outline(smooth, edge=36.0) is None
    assert outline(np.full((120, 160), 90, np.uint8), edge=16.0) is None
