"""Lane-camera frames (issue 16) for bench/decode.py: read rates, pass yields, speed, resolution.

The frames come from gate.scanner.lanecam: the tune seed is what the pipeline was tuned on,
the report seed what the targets are judged on. Everything runs against bare zxing-cpp in
the same run, on the core decode.py pins.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import zxingcpp

from gate.scanner import DEFAULT_SYMBOLOGIES, Pipeline, lanecam
from gate.scanner.decoders import Gray
from gate.scanner.pipeline import OPTIONAL_PASSES, PASSES
from gate.scanner.regions import find_regions
from gate.scanner.symbology import ZXING_FORMATS

Table = Callable[[str, list[str], list[list[str]]], None]


def _bare(image: Gray) -> list[str]:
    return [str(b.text) for b in zxingcpp.read_barcodes(image)]


def read_rates(table: Table, count: int) -> list[lanecam.LaneFrame]:
    """Frames read on the tune and the report seed, bare zxing-cpp against the pipeline.
    Returns the report seed's frames for the sections after it."""
    rows = []
    report: list[lanecam.LaneFrame] = []
    by_kind: dict[str, Counter[str]] = {}
    for label, seed in (("tune", lanecam.TUNE_SEED), ("report", lanecam.REPORT_SEED)):
        frames = list(lanecam.frames(seed, count))
        if seed == lanecam.REPORT_SEED:
            report = frames
        pipeline = Pipeline(extra_budget=None)
        coded = bare = ours = bare_false = our_false = 0
        for frame in frames:
            bare_found = _bare(frame.image)
            our_found = [d.payload for d in pipeline.read(frame.image)]
            if frame.expected is None:
                bare_false += bool(bare_found)
                our_false += bool(our_found)
                continue
            coded += 1
            b, o = frame.expected in bare_found, frame.expected in our_found
            bare += b
            ours += o
            bare_false += any(p != frame.expected for p in bare_found)
            our_false += any(p != frame.expected for p in our_found)
            if seed == lanecam.REPORT_SEED:
                s = frame.shot
                for key in (s.symbology.label if s.symbology else "", s.kind, "dark mode" if s.dark else ""):
                    if key:
                        tally = by_kind.setdefault(key, Counter())
                        tally.update(frames=1, bare=b, ours=o)
        rows.append([f"{label} seed {seed}", str(len(frames)), str(coded), f"{bare} ({bare / coded:.1%})",
                     f"{ours} ({ours / coded:.1%})", f"{ours / max(1, bare):.2f}x", str(bare_false), str(our_false)])
    table(f"Lane-camera frames (gate.scanner.lanecam, {count} frames a seed): frames with a code read",
          ["seed", "frames", "with a code", "bare zxing-cpp", "gate pipeline", "ratio", "false pos. bare",
           "false pos. gate"], rows)
    detail = [[key, str(t["frames"]), f"{t['bare']} ({t['bare'] / t['frames']:.0%})",
               f"{t['ours']} ({t['ours'] / t['frames']:.0%})"] for key, t in by_kind.items()]
    table("Report seed by symbology and impairment", ["frames with", "frames", "bare zxing-cpp", "gate pipeline"],
          detail)
    return report


def pass_yields(table: Table, frames: list[lanecam.LaneFrame]) -> None:
    """Each pass's reads per millisecond spent in it, default passes and the optional ones."""
    rows = []
    variants = (
        ("default", PASSES),
        ("with optional", (*PASSES[:-1], *OPTIONAL_PASSES, PASSES[-1])),
        ("before deblur", ("level", "invert", "contrast", "global")),  # the default before the deblur passes
    )
    for label, passes in variants:
        pipeline = Pipeline(extra_budget=None, passes=passes)
        read = 0
        for frame in frames:
            found = [d.payload for d in pipeline.read(frame.image)]
            read += frame.expected is not None and frame.expected in found
        for name in passes:
            seconds = pipeline.stats.seconds[name]
            hits = pipeline.stats.hits[name]
            rows.append([f"{label}: {name}", str(pipeline.stats.runs[name]), str(hits), f"{1000 * seconds:.0f}",
                         f"{hits / max(1e-9, 1000 * seconds):.3f}"])
        rows.append([f"{label}: frames read", "", str(read), "", ""])
    table("Extra passes on the report seed (no budget): yield per millisecond",
          ["pass", "runs", "reads", "ms total", "reads/ms"], rows)


def first_pass_speed(table: Table, frames: list[lanecam.LaneFrame], repeat: int) -> None:
    """On frames the first pass reads, the pipeline's time against the bare call it makes."""
    formats: Any = tuple(getattr(zxingcpp.BarcodeFormat, n) for s in DEFAULT_SYMBOLOGIES for n in ZXING_FORMATS[s])
    probe = Pipeline()
    chosen = []
    for frame in frames:
        before = probe.stats.first
        probe.read(frame.image)
        if probe.stats.first > before:
            chosen.append(frame.image)
    if not chosen:
        return
    pipeline = Pipeline()

    def bare_same(image: Gray) -> object:
        return zxingcpp.read_barcodes(image, formats=formats, text_mode=zxingcpp.TextMode.Plain)

    contenders: dict[str, Callable[[Gray], object]] = {
        "bare zxing-cpp (defaults)": zxingcpp.read_barcodes,
        "bare zxing-cpp (lane formats)": bare_same,
        "gate pipeline": pipeline.read,
    }
    best = {name: [float("inf")] * len(chosen) for name in contenders}
    for _ in range(repeat):
        for i, image in enumerate(chosen):
            for name, fn in contenders.items():
                start = time.perf_counter()
                fn(image)
                best[name][i] = min(best[name][i], time.perf_counter() - start)
    base = sum(best["bare zxing-cpp (defaults)"])
    rows = [[name, f"{1000 * sum(t) / len(t):.2f}", f"{sum(t) / base:.3f}"] for name, t in best.items()]
    table(f"Lane-camera frames the first pass reads ({len(chosen)} of the report seed, best of {repeat})",
          ["decoder", "ms/frame", "vs bare (defaults)"], rows)


def empty_stream(table: Table, length: int) -> None:
    """Mostly empty noisy frames (what a lane camera sees between visitors), 1 in 10 with a code."""
    shots = lanecam.shots(lanecam.REPORT_SEED + 1, length * 3)
    empty = [s for s in shots if s.symbology is None]
    coded = [s for s in shots if s.symbology is not None]
    chosen = [coded[i // 10] if i % 10 == 9 else empty[i % len(empty)] for i in range(length)]
    frames = [lanecam.make(s, seed=lanecam.REPORT_SEED + 1) for s in chosen]
    empties = sum(s.symbology is None for s in chosen)
    rows = []
    contenders: list[tuple[str, Callable[[Gray], list[object]], Pipeline | None]] = [
        ("bare zxing-cpp (defaults)", lambda f: list(zxingcpp.read_barcodes(f)), None),
    ]
    lane = Pipeline()
    contenders.append(("gate pipeline (budget 2 frames)", lambda f: list(lane.read(f)), lane))
    for name, reader, pipeline in contenders:
        times = []
        false_positives = 0
        for shot, image in zip(chosen, frames, strict=True):
            start = time.perf_counter()
            found = reader(image)
            times.append(time.perf_counter() - start)
            false_positives += shot.symbology is None and bool(found)
        gated = f"{pipeline.stats.gated_out / empties:.0%}" if pipeline else ""
        rows.append([name, f"{len(frames) / sum(times):.1f}", f"{1000 * statistics.median(times):.2f}",
                     f"{1000 * sorted(times)[int(0.99 * len(times))]:.1f}", str(false_positives), gated])
    noisy = sum(not find_regions(f) for s, f in zip(chosen, frames, strict=True) if s.symbology is None)
    table(f"Noisy stream: {length} lane-camera frames, {empties} empty, one core",
          ["decoder", "frames/s", "ms p50", "ms p99", "false pos.", "empty ended by the region check"], rows)
    print(f"region check alone: ends {noisy} of {empties} empty frames ({noisy / empties:.0%})")


def resolution(table: Table, frames: list[lanecam.LaneFrame], seed: int = lanecam.REPORT_SEED) -> None:
    """640x480 against 1280x720 (whole frame, or a region of interest) for the same scenes.
    The time includes the camera's JPEG decode, which a lane pays for every frame."""
    views: list[tuple[str, Callable[[lanecam.Shot], lanecam.Shot], Pipeline]] = [
        ("640x480", lambda s: s, Pipeline(extra_budget=None)),
        ("1280x720, noise x2", lanecam.at_720p, Pipeline(extra_budget=None)),
        ("1280x720, noise x2, region 960x600", lanecam.at_720p,
         Pipeline(extra_budget=None, roi=(160, 60, 960, 600))),
        ("1280x720, noise x1.4, region 960x600", lambda s: lanecam.at_720p(s, noise=1.4),
         Pipeline(extra_budget=None, roi=(160, 60, 960, 600))),
        # A camera that only gives 720p: gate's own downscale to 640x360 bins it as 640x480 does.
        ("1280x720, noise x2, max_side 640", lanecam.at_720p, Pipeline(extra_budget=None, max_side=640)),
    ]
    rows = []
    for name, view, pipeline in views:
        bare = ours = coded = 0
        times: list[float] = []
        for frame in frames:
            shot = view(frame.shot)
            image = lanecam.make(shot, seed=seed)
            _, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, shot.jpeg])
            start = time.perf_counter()
            decoded = np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)
            found = [d.payload for d in pipeline.read(decoded)]
            times.append(time.perf_counter() - start)
            if frame.expected is not None:
                coded += 1
                ours += frame.expected in found
                bare += frame.expected in _bare(decoded)
        rows.append([name, f"{bare / coded:.1%}", f"{ours / coded:.1%}", f"{1000 * statistics.median(times):.1f}",
                     f"{1000 * statistics.fmean(times):.1f}"])
    table(f"Camera resolution ({len(frames)} scenes of the report seed; time: JPEG decode + pipeline, no budget)",
          ["view", "bare zxing-cpp", "gate pipeline", "ms p50", "ms mean"], rows)
