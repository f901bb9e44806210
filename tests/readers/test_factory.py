"""Readers built from the config file, end to end: a camera section reads a video file."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import cv2
import pytest

from gate.config import ConfigError, parse_config
from gate.scanner import CameraReader, SerialReader, WedgeReader, build_reader, deduplicated
from gate.scanner.symbology import Symbology
from gate.scanner.synth import Scene, lane_frame, render
from tests.configs import config_text


def test_every_reader_type_is_built_from_its_section(tmp_path: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "1.png"), lane_frame(render("CFG-1", Symbology.DATA_MATRIX), Scene(width=160)))
    cv2.imwrite(str(frames / "2.png"), lane_frame(render("IGNORED", Symbology.QR_CODE), Scene(width=200)))
    readers = {
        "cam": {
            "type": "camera",
            "lane": "l1",
            "source": f"file:{frames}",
            "symbologies": ["datamatrix", "]z0"],
            "max_side": 480,
        },
        "exit": {
            "type": "serial",
            "lane": "l1",
            "direction": "exit",
            "port": "/dev/ttyACM0",
            "terminator": "none",
            "idle_timeout_ms": 120,
        },
        "wedge": {"type": "wedge", "lane": "l1", "device": "/dev/input/scanner0"},
    }
    config = parse_config(config_text(readers=readers))
    built = {name: build_reader(name, section) for name, section in config.readers.items()}
    assert isinstance(built["exit"], SerialReader)
    assert (built["exit"].port, built["exit"].idle_timeout, built["exit"].direction) == ("/dev/ttyACM0", 0.12, "exit")
    assert isinstance(built["wedge"], WedgeReader)
    assert built["wedge"].grab
    camera = built["cam"]
    assert isinstance(camera, CameraReader)

    async def watch(seconds: float) -> set[str | bytes]:
        seen: set[str | bytes] = set()

        async def collect() -> None:
            async for read in deduplicated(camera.reads(), 3.0):
                seen.add(read.data)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(collect(), seconds)
        await camera.aclose()
        return seen

    # Both frames are shown (the folder replays after each pass), but only the configured
    # symbologies are read: the QR Code in the second frame is ignored.
    assert asyncio.run(watch(1.5)) == {"CFG-1"}


def test_an_unknown_symbology_is_named_with_its_key_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            config_text(readers={"cam": {"type": "camera", "lane": "l1", "source": "0", "symbologies": ["laser"]}})
        )
    assert any(p.startswith("readers.cam.camera.symbologies: unknown symbology 'laser'") for p in caught.value.problems)
