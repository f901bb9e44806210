"""Lane-camera frames (issue 16): small, blurred, noisy, skewed codes, and no phantom reads.

Small frame sets with asserted floors; the 500-frame figures are bench/decode.py's.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zxingcpp

from gate.scanner import Pipeline, Symbology, corpus, decode, lanecam
from gate.scanner.decoders import Decoded
from gate.scanner.phantoms import without_phantoms
from gate.scanner.regions import find_regions

# The frames these tests use: 60 of the tune seed (the report seed is the bench's).
COUNT = 60


@pytest.fixture(scope="module")
def frames() -> list[lanecam.LaneFrame]:
    return list(lanecam.frames(lanecam.TUNE_SEED, COUNT))


def test_the_generator_draws_the_issue_distribution() -> None:
    shots = lanecam.shots(lanecam.TUNE_SEED, 400)
    empty = sum(s.symbology is None for s in shots)
    assert 0.10 < empty / len(shots) < 0.20
    coded = [s for s in shots if s.symbology is not None]
    for sym in lanecam.SYMBOLOGIES:
        assert 0.14 < sum(s.symbology is sym for s in coded) / len(coded) < 0.26
    assert all(2.3 <= s.module <= 2.7 and 1.0 <= s.blur <= 1.6 and 8 <= s.noise <= 10 for s in shots)
    assert all(35 <= s.jpeg <= 80 for s in shots)
    assert 0.18 < sum(s.glare > 0 for s in shots) / len(shots) < 0.32
    low = [s for s in shots if s.contrast < 0.55]
    assert 0.18 < len(low) / len(shots) < 0.32 and all(abs(s.tilt) >= 5 for s in low)
    assert any(s.dark for s in shots)
    # Same seed, same frames: a figure can be measured again.
    assert lanecam.shots(lanecam.TUNE_SEED, 5) == shots[:5]
    again = lanecam.make(shots[0], seed=lanecam.TUNE_SEED)
    assert np.array_equal(again, next(lanecam.frames(lanecam.TUNE_SEED, 1)).image)


def _read(found: list[Decoded], frame: lanecam.LaneFrame) -> bool:
    return frame.expected in [d.payload for d in found]


def test_the_pipeline_reads_far_more_than_bare_zxing_and_invents_nothing(frames: list[lanecam.LaneFrame]) -> None:
    pipeline = Pipeline(extra_budget=None)
    bare = ours = false = 0
    for frame in frames:
        found = pipeline.read(frame.image)
        if frame.expected is None:
            false += bool(found)
            continue
        bare += frame.expected in [str(b.text) for b in zxingcpp.read_barcodes(frame.image)]
        ours += _read(found, frame)
        # Whatever it reads is the code that is there, where it is.
        for d in found:
            assert d.payload == frame.expected
            x, y = np.mean(np.array(d.position, dtype=float), axis=0)
            assert cv2.pointPolygonTest(lanecam.corners(frame.shot), (float(x), float(y)), False) >= 0
    coded = sum(f.expected is not None for f in frames)
    # Measured on these 60: bare 27 of 53, the pipeline 48. The floors leave a frame or two.
    assert bare <= 0.55 * coded
    assert ours >= 45 and ours >= 1.65 * bare
    assert false == 0


def test_noisy_empty_frames_end_at_the_region_check(frames: list[lanecam.LaneFrame]) -> None:
    shots = [s for s in lanecam.shots(lanecam.TUNE_SEED, 300) if s.symbology is None]
    assert len(shots) >= 30
    # Measured: 24 of these 35 end there (69 %; none did before the noise-aware threshold).
    ended = sum(not find_regions(lanecam.make(s, seed=lanecam.TUNE_SEED)) for s in shots)
    assert ended / len(shots) >= 0.55
    # And where there is a code, the region check finds it: the extra passes get their patch.
    coded = [f for f in frames if f.expected is not None][:20]
    for frame in coded:
        cx, cy = lanecam.corners(frame.shot).mean(axis=0)
        regions = find_regions(frame.image)
        assert any(r.x <= cx <= r.x + r.w and r.y <= cy <= r.y + r.h for r in regions), frame.shot


def test_a_sliver_beside_a_stronger_read_is_no_read() -> None:
    # The photo where zxing-cpp reads, beside the right EAN-13, another payload from a 3-px
    # sliver along the same bars.
    sample = next(s for s in corpus.load(corpus.default_root()) if s.name == "ean13-1/35.webp")
    image = sample.load()
    bare = {bytes(b.bytes) for b in zxingcpp.read_barcodes(image)}
    assert len(bare) == 2  # what makes it the known case
    for found in (decode(image), Pipeline(extra_budget=None).read(image)):
        assert [d.payload_bytes for d in found] == [sample.expected.strip() if sample.expected else b""]


def test_two_codes_side_by_side_are_both_read() -> None:
    # The phantom rule keeps two real codes of one symbology that lie apart.
    def at(payload: str, x: int) -> Decoded:
        box = ((x, 10), (x + 200, 10), (x + 200, 80), (x, 80))
        return Decoded(payload, Symbology.CODE_128, "]C0", box)

    apart = [at("A1", 0), at("B2", 0)]
    apart[1] = Decoded("B2", Symbology.CODE_128, "]C0", ((0, 300), (200, 300), (200, 370), (0, 370)))
    assert without_phantoms(apart) == apart
    sliver = Decoded("C3", Symbology.CODE_128, "]C0", ((0, 82), (200, 82), (200, 85), (0, 85)))
    assert without_phantoms([*apart, sliver]) == apart


@pytest.mark.parametrize(("seed", "index"), [(lanecam.TUNE_SEED, 315), (lanecam.REPORT_SEED, 233)])
def test_a_pdf417_misread_with_no_error_correction_to_spare_is_no_read(seed: int, index: int) -> None:
    # Two frames where zxing-cpp returns a valid-looking PDF417 payload that is not the code's
    # (bare, or after an extra pass), having used up all its error correction.
    shot = lanecam.shots(seed, index + 1)[index]
    image = lanecam.make(shot, seed=seed)
    for found in (decode(image), Pipeline(extra_budget=None).read(image)):
        assert [d.payload for d in found if d.payload != shot.payload] == []
