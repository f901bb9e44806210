"""The lane's frame pipeline on generated frames: what real lanes show it, it reads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gate.scanner import Decoded, Pipeline, Symbology, decode
from gate.scanner.regions import find_regions
from gate.scanner.synth import Scene, lane_frame

from .frames import LINEAR, centre, frame, payload, read_payloads

QR, PDF, C128, EAN = Symbology.QR_CODE, Symbology.PDF417, Symbology.CODE_128, Symbology.EAN_13
DM, AZTEC = Symbology.DATA_MATRIX, Symbology.AZTEC

# (symbology, scene, seed): each a frame the bare decoder does not read today.
IMPAIRED = {
    "pdf417 tilted 30": (PDF, Scene(tilt=30), 0),
    "pdf417 tilted -30": (PDF, Scene(tilt=-30), 1),
    "pdf417 tilted 20 at a slant": (PDF, Scene(tilt=20, slant=0.3), 2),
    "code128 tilted 30": (C128, Scene(tilt=30), 0),
    "code128 tilted -30": (C128, Scene(tilt=-30), 1),
    "ean13 tilted 30": (EAN, Scene(tilt=30), 2),
    "code128 dark mode": (C128, Scene(dark=True), 0),
    "pdf417 dark mode": (PDF, Scene(dark=True), 1),
    "ean13 dark mode": (EAN, Scene(dark=True), 2),
    "code128 dark mode tilted 25": (C128, Scene(dark=True, tilt=25), 3),
    "qr under glare": (QR, Scene(glare=0.97), 4),
    "data matrix under glare": (DM, Scene(glare=0.97, width=200), 1),
    "code128 low contrast": (C128, Scene(contrast=0.07, noise=2), 0),
    "ean13 low contrast": (EAN, Scene(contrast=0.07, noise=2), 1),
    "small code128": (C128, Scene(width=190), 0),
    "small ean13": (EAN, Scene(width=190), 1),
}


def read_within(pipeline: Pipeline, image: np.ndarray, frames: int) -> tuple[list[Decoded], int]:
    """Feed the same frame up to `frames` times, as while a visitor holds the code still."""
    for count in range(1, frames + 1):
        found = pipeline.read(image)
        if found:
            return found, count
    return [], frames


def expected_centre(scene: Scene) -> tuple[float, float]:
    return scene.center[0] * 640, scene.center[1] * 480


@pytest.mark.parametrize("case", list(IMPAIRED), ids=lambda c: c.replace(" ", "-"))
def test_the_lane_reads_impaired_codes(case: str) -> None:
    sym, scene, seed = IMPAIRED[case]
    image = frame(sym, scene, seed=seed)
    # Within 4 frames (133 ms at 30 frames/s): the budget spreads the passes over frames.
    found, _ = read_within(Pipeline(), image, frames=4)
    assert read_payloads(found, sym) == [payload(sym)]
    # The position is in the frame's pixels, whatever the pass turned, squared up or enlarged.
    # A PDF417 or 1D read's box covers the rows or bars it decoded, which may be part of them.
    cx, cy = centre(found[0])
    ex, ey = expected_centre(scene)
    assert math.dist((cx, cy), (ex, ey)) < (100 if sym in LINEAR else 40)


def test_the_impaired_frames_are_beyond_the_bare_decoder() -> None:
    # What makes the cases above worth testing: the bare decoder misses almost all of them.
    bare = sum(bool(decode(frame(sym, scene, seed=seed))) for sym, scene, seed in IMPAIRED.values())
    assert bare <= len(IMPAIRED) // 4


@pytest.mark.parametrize("sym", [QR, AZTEC, DM, *LINEAR], ids=lambda s: s.name)
def test_a_dark_mode_screen_is_read(sym: Symbology) -> None:
    scene = Scene(dark=True, width=200 if sym not in LINEAR else 300)
    found, _ = read_within(Pipeline(), frame(sym, scene, seed=5), frames=3)
    assert read_payloads(found, sym) == [payload(sym)]


def test_codes_the_first_pass_reads_cost_no_extra_pass() -> None:
    pipeline = Pipeline()
    for seed, sym in enumerate([QR, AZTEC, PDF, DM, C128, EAN]):
        found = pipeline.read(frame(sym, Scene(tilt=8, noise=2), seed=seed))
        assert read_payloads(found, sym) == [payload(sym)]
    assert pipeline.stats.first == pipeline.stats.frames == 6
    assert sum(pipeline.stats.runs.values()) == 0


def test_an_empty_lane_reads_nothing_and_mostly_skips_the_extra_passes() -> None:
    pipeline = Pipeline()
    for seed in range(40):
        scene = Scene(noise=(0, 2, 4, 6)[seed % 4], blur=(0.0, 0.8)[seed % 2])
        assert pipeline.read(lane_frame(None, scene, seed=100 + seed)) == []
    # Striped coats are code-like enough to try; plain scenes never pay for the extra passes.
    assert pipeline.stats.gated_out >= 15


def test_a_busy_frame_costs_a_bounded_share_and_the_next_frames_go_on() -> None:
    # With a budget of a quarter frame, one frame runs a single extra step; a dark-mode code
    # held at an angle needs the second kind of pass, and the visitor holding it still is read
    # a few frames later all the same.
    pipeline = Pipeline(extra_budget=0.25)
    image = frame(C128, Scene(dark=True, tilt=25), seed=3)
    assert pipeline.read(image) == []
    assert sum(pipeline.stats.runs.values()) == 1
    found, count = read_within(pipeline, image, frames=12)
    assert read_payloads(found, C128) == [payload(C128)]
    assert sum(pipeline.stats.runs.values()) == 1 + count


def test_a_visitor_stepping_in_gets_the_best_passes_first_whatever_came_before() -> None:
    # A striped coat in view for a while leaves its round of passes half done; the code held
    # up next is not made to wait for the rest of that round: its region starts with deblur.
    pipeline = Pipeline(extra_budget=0.25)
    coat = lane_frame(None, Scene(noise=4.0), seed=5000)
    assert find_regions(coat)
    for _ in range(3):
        assert pipeline.read(coat) == []
    before = dict(pipeline.stats.runs)
    found, count = read_within(pipeline, frame(C128, Scene(dark=True, tilt=25), seed=3), frames=4)
    assert read_payloads(found, C128) == [payload(C128)]
    # One step a frame: deblur on the first, deblur-invert (which reads it) on the second.
    ran = {name: n - before[name] for name, n in pipeline.stats.runs.items() if n != before[name]}
    assert ran == {"deblur": 1, "deblur-invert": 1} and count == 2


def test_the_region_of_interest_bounds_what_is_read_and_positions_stay_in_the_frame() -> None:
    image = frame(QR, Scene(center=(0.25, 0.5)), seed=3)
    assert Pipeline(roi=(320, 0, 320, 480)).read(image) == []
    found = Pipeline(roi=(0, 60, 320, 400)).read(image)
    assert read_payloads(found, QR) == [payload(QR)]
    assert math.dist(centre(found[0]), (160, 240)) < 20


def test_a_region_of_interest_outside_the_frame_reads_nothing() -> None:
    assert Pipeline(roi=(700, 500, 100, 100)).read(frame(QR)) == []


def test_a_large_frame_is_downscaled_and_positions_mapped_back() -> None:
    image = frame(PDF, Scene(tilt=25, width=600, center=(0.6, 0.4)), seed=2, size=(1280, 960))
    pipeline = Pipeline(max_side=640)
    found, _ = read_within(pipeline, image, frames=3)
    assert read_payloads(found, PDF) == [payload(PDF)]
    assert math.dist(centre(found[0]), (0.6 * 1280, 0.4 * 960)) < 60


def test_only_the_lanes_symbologies_are_read() -> None:
    pipeline = Pipeline(symbologies=frozenset({QR}))
    assert pipeline.read(frame(C128, Scene(tilt=30), seed=1)) == []
    assert read_payloads(pipeline.read(frame(QR)), QR) == [payload(QR)]


def test_zbar_backend_gets_the_same_extra_passes() -> None:
    pipeline = Pipeline(backend="zbar")
    for scene in (Scene(dark=True), Scene(tilt=30)):
        image = frame(C128, scene, seed=2)
        assert decode(image, backend="zbar") == []
        found, _ = read_within(pipeline, image, frames=3)
        assert read_payloads(found, C128) == [payload(C128)]


def test_a_colour_frame_is_read() -> None:
    image = np.repeat(frame(C128, Scene(tilt=30), seed=4)[:, :, None], 3, axis=2)
    found, _ = read_within(Pipeline(), image, frames=3)
    assert read_payloads(found, C128) == [payload(C128)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"passes": ("level", "sharpen")}, "unknown pass"),
        ({"roi": (0, 0, 0, 100)}, "region of interest"),
        ({"roi": (-5, 0, 100, 100)}, "region of interest"),
        ({"backend": "quagga"}, "unknown decoder backend"),
        ({"max_side": 0}, "max_side"),
        ({"extra_budget": 0}, "extra_budget"),
        ({"max_regions": 0}, "max_regions"),
    ],
)
def test_a_bad_pipeline_setting_is_refused_at_start(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Pipeline(**kwargs)  # type: ignore[arg-type]


def test_without_extra_passes_it_is_the_bare_decoder() -> None:
    image = frame(C128, Scene(tilt=30), seed=0)
    assert Pipeline(passes=()).read(image) == decode(image) == []
    assert Pipeline().read(image) != []
