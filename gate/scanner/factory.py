"""Readers from the config: one `[readers.<id>]` section, one reader."""

from __future__ import annotations

from gate.config import CameraReaderConfig, ReaderConfig, SerialReaderConfig, WedgeReaderConfig
from gate.scanner.read import Reader
from gate.scanner.serial import SerialReader
from gate.scanner.symbology import DEFAULT_SYMBOLOGIES, parse_symbologies
from gate.scanner.wedge import WedgeReader


def build_reader(reader_id: str, config: ReaderConfig) -> Reader:
    if isinstance(config, SerialReaderConfig):
        return SerialReader(
            name=reader_id, direction=config.direction, port=config.port, baudrate=config.baudrate,
            terminator=config.terminator, idle_timeout=config.idle_timeout_ms / 1000, max_length=config.max_length,
        )  # fmt: skip
    if isinstance(config, WedgeReaderConfig):
        return WedgeReader(name=reader_id, direction=config.direction, device=config.device, grab=config.grab)
    assert isinstance(config, CameraReaderConfig)
    # OpenCV only loads for a lane that has a camera.
    from gate.scanner.camera import CameraReader  # noqa: PLC0415
    from gate.scanner.pipeline import Pipeline  # noqa: PLC0415

    symbologies = parse_symbologies(config.symbologies) if config.symbologies else DEFAULT_SYMBOLOGIES
    pipeline = Pipeline(backend=config.backend, symbologies=symbologies, roi=config.region, max_side=config.max_side)
    return CameraReader(name=reader_id, direction=config.direction, source=config.source, pipeline=pipeline)
