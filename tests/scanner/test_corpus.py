"""The real photos in shared/corpus/barcodes: the pipeline reads more than the bare library,
never a code where there is none, and no backend raises on any of them."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp

from gate.scanner import Pipeline, Symbology, decode
from gate.scanner import corpus as corpus_mod

#: Measured with zxing-cpp 3.1.1: the pipeline reads 364 of 373 (bare zxing-cpp 340, as the
#: corpus README says). The floor leaves room for a decoder update moving one or two photos.
PIPELINE_FLOOR = 362


@dataclass(frozen=True)
class Outcome:
    sample: corpus_mod.Sample
    bare: bool
    pipeline: bool
    pipeline_reads: int


@pytest.fixture(scope="module")
def samples() -> list[corpus_mod.Sample]:
    return corpus_mod.load(corpus_mod.default_root())


@pytest.fixture(scope="module")
def outcomes(samples: list[corpus_mod.Sample]) -> list[Outcome]:
    pipeline = Pipeline(extra_budget=None)  # a photo is all there is: every pass may run
    out = []
    for sample in samples:
        image = sample.load()
        # The bare library as the corpus README counts it: defaults, payload bytes compared.
        bare = sample.is_read(bytes(b.bytes) for b in zxingcpp.read_barcodes(image))
        found = pipeline.read(image)
        out.append(Outcome(sample, bare, sample.is_read(d.payload for d in found), len(found)))
    return out


def test_the_corpus_is_the_one_the_figures_are_about(samples: list[corpus_mod.Sample]) -> None:
    assert sum(s.symbology is not None for s in samples) == 373
    assert sum(s.symbology is None for s in samples) == 44


def test_the_pipeline_reads_more_than_bare_zxing_and_everything_it_reads(outcomes: list[Outcome]) -> None:
    bare = [o.sample.name for o in outcomes if o.bare]
    ours = [o.sample.name for o in outcomes if o.pipeline]
    assert len(bare) == 340
    assert len(ours) >= PIPELINE_FLOOR
    assert set(bare) - set(ours) == set()


def test_no_code_is_read_where_there_is_none(outcomes: list[Outcome]) -> None:
    negatives = [o for o in outcomes if o.sample.symbology is None]
    assert len(negatives) == 44
    assert [o.sample.name for o in negatives if o.pipeline_reads] == []


def test_gs1_codes_reach_the_lane_as_a_scanner_sends_them(samples: list[corpus_mod.Sample]) -> None:
    sample = next(s for s in samples if s.name == "datamatrix-1/gs1-figure-4.15.1-2-32x32.png")
    (found,) = decode(sample.load())
    assert found.symbology is Symbology.DATA_MATRIX
    assert found.aim == "]d2"  # GS1 DataMatrix: the credentials layer knows what follows
    assert sample.expected is not None
    assert found.payload_bytes == sample.expected.strip()
    assert isinstance(found.payload, str) and "\x1d" in found.payload and "(01)" not in found.payload


def test_zbar_never_raises_and_never_invents_a_code(samples: list[corpus_mod.Sample]) -> None:
    read = false_positives = 0
    for sample in samples:
        found = decode(sample.load(), backend="zbar")
        if sample.symbology is None:
            false_positives += bool(found)
        else:
            read += sample.is_read(d.payload for d in found)
    assert false_positives == 0
    assert read >= 125  # the bare pyzbar figure of the corpus README


def test_a_fresh_clone_finds_the_corpus_beside_the_repository_it_was_cloned_from(tmp_path: Path) -> None:
    """CI clones into a temporary directory, where no `shared/` lies beside the clone."""
    workspace, elsewhere = tmp_path / "work", tmp_path / "tmp"
    origin, corpus = workspace / "main", workspace / "shared" / "corpus" / "barcodes"
    corpus.mkdir(parents=True)
    elsewhere.mkdir()
    subprocess.run(["git", "init", "-q", str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(elsewhere / "clone")], check=True, capture_output=True)
    assert corpus_mod.root_for(origin) == corpus
    assert corpus_mod.root_for(elsewhere / "clone") == corpus
    # Found nowhere: the answer names where it belongs, beside the clone.
    lonely = tmp_path / "lonely" / "repo"
    subprocess.run(["git", "init", "-q", str(lonely)], check=True)
    assert corpus_mod.root_for(lonely) == tmp_path / "lonely" / "shared" / "corpus" / "barcodes"


def test_a_photo_whose_noise_proof_region_is_cut_wide_reads_deblurred(samples: list[corpus_mod.Sample]) -> None:
    # This EAN-13 reads on no levelled crop of the region a lane camera's noise calls for (48
    # px wider than the bars): it took a last resort on a tighter region until the deblur
    # passes came; the deblurred, squared-up patch after CLAHE reads it.
    sample = next(s for s in samples if s.name == "ean13-1/36.webp")
    still = Pipeline(extra_budget=None)
    assert sample.is_read(d.payload for d in still.read(sample.load()))
    assert still.stats.hits["deblur-contrast"] == 1
