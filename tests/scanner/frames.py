"""Builders for the scanner tests: frames a lane camera would see, made from rendered codes."""

from __future__ import annotations

import dataclasses

import numpy as np

from gate.scanner import Decoded, Symbology
from gate.scanner.decoders import Gray
from gate.scanner.synth import FRAME_SIZE, Scene, lane_frame, render

# What a lane's codes look like: a membership QR on a phone, a ticket's PDF417 or Code 128.
PAYLOADS: dict[Symbology, tuple[str, int]] = {
    Symbology.QR_CODE: ("GATE-M-000123-7F3A", 4),
    Symbology.AZTEC: ("GATE-T-445566", 4),
    Symbology.PDF417: ("GATE-T-000123", 2),
    Symbology.DATA_MATRIX: ("GATE-V-9921", 5),
    Symbology.CODE_128: ("T000123456", 2),
    Symbology.EAN_13: ("4006381333931", 2),
}
LINEAR = (Symbology.PDF417, Symbology.CODE_128, Symbology.EAN_13)


def payload(sym: Symbology) -> str:
    return PAYLOADS[sym][0]


def frame(sym: Symbology, scene: Scene | None = None, *, seed: int = 0, size: tuple[int, int] = FRAME_SIZE) -> Gray:
    """A frame with `sym`'s code placed as `scene` says; 1D codes and PDF417 a bit wider, as
    they are printed."""
    text, module = PAYLOADS[sym]
    scene = scene or Scene()
    if scene.width == Scene().width and sym in LINEAR:
        scene = dataclasses.replace(scene, width=300)
    return lane_frame(render(text, sym, module=module), scene, seed=seed, size=size)


def read_payloads(found: list[Decoded], sym: Symbology) -> list[str | bytes]:
    return [d.payload for d in found if d.symbology is sym]


def centre(found: Decoded) -> tuple[float, float]:
    xs, ys = zip(*found.position, strict=True)
    return float(np.mean(xs)), float(np.mean(ys))
