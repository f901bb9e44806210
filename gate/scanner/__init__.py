"""Readers: hardware in, reads out (docs/readers.md, docs/decoding.md).

`decode` (one image, one backend) and `Pipeline` (a lane's frames: a bare first pass, then
extra passes for blurred, skewed, tilted, dark-mode, glared, dim and small codes) decode
camera frames; `CameraReader`, `SerialReader` and `WedgeReader` are the readers, built from
the config by `build_reader`. Re-exports load lazily: OpenCV costs a noticeable start-up
time that the config, the CLI and the serial readers need not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gate.scanner.camera import CameraReader
    from gate.scanner.decoders import Backend, BackendUnavailable, Decoded, decode
    from gate.scanner.factory import build_reader
    from gate.scanner.pipeline import PASSES, PassStats, Pipeline
    from gate.scanner.read import Deduplicator, Read, Reader, deduplicated
    from gate.scanner.serial import SerialReader
    from gate.scanner.symbology import DEFAULT_SYMBOLOGIES, Symbology, parse_symbologies
    from gate.scanner.wedge import WedgeReader

_HOME = {
    "CameraReader": "camera",
    "Backend": "decoders",
    "BackendUnavailable": "decoders",
    "Decoded": "decoders",
    "decode": "decoders",
    "build_reader": "factory",
    "PASSES": "pipeline",
    "PassStats": "pipeline",
    "Pipeline": "pipeline",
    "Deduplicator": "read",
    "Read": "read",
    "Reader": "read",
    "deduplicated": "read",
    "SerialReader": "serial",
    "DEFAULT_SYMBOLOGIES": "symbology",
    "Symbology": "symbology",
    "parse_symbologies": "symbology",
    "WedgeReader": "wedge",
}

__all__ = [
    "DEFAULT_SYMBOLOGIES",
    "PASSES",
    "Backend",
    "BackendUnavailable",
    "CameraReader",
    "Decoded",
    "Deduplicator",
    "PassStats",
    "Pipeline",
    "Read",
    "Reader",
    "SerialReader",
    "Symbology",
    "WedgeReader",
    "build_reader",
    "decode",
    "deduplicated",
    "parse_symbologies",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'gate.scanner' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gate.scanner.{_HOME[name]}"), name)
