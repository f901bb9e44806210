"""decode(): one image, one backend; payloads as the lane needs them; nothing odd gets through."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import zxingcpp
from pyzbar import pyzbar

from gate.scanner import BackendUnavailable, Pipeline, Symbology, decode
from gate.scanner.decoders import Backend, _pyzbar
from gate.scanner.synth import Scene

from .frames import frame, payload

DEFAULT_FORMATS = [Symbology.QR_CODE, Symbology.AZTEC, Symbology.PDF417, Symbology.DATA_MATRIX,
                   Symbology.CODE_128, Symbology.EAN_13]


@pytest.mark.parametrize("sym", DEFAULT_FORMATS, ids=lambda s: s.name)
def test_zxing_reads_every_lane_symbology_with_its_position(sym: Symbology) -> None:
    image = frame(sym, Scene(center=(0.3, 0.6)))
    found = decode(image)
    assert [(d.payload, d.symbology) for d in found] == [(payload(sym), sym)]
    assert found[0].aim.startswith(sym.aim_prefix)
    xs = [p[0] for p in found[0].position]
    ys = [p[1] for p in found[0].position]
    # Placed at 30% across, 60% down a 640x480 frame.
    assert min(xs) < 0.3 * 640 < max(xs)
    assert min(ys) < 0.6 * 480 < max(ys)


@pytest.mark.parametrize("sym", [Symbology.QR_CODE, Symbology.CODE_128, Symbology.EAN_13], ids=lambda s: s.name)
def test_zbar_reads_what_it_supports_with_corners_in_zxing_order(sym: Symbology) -> None:
    found = decode(frame(sym), backend="zbar")
    assert [(d.payload, d.symbology) for d in found] == [(payload(sym), sym)]
    (tl, tr, br, bl) = found[0].position
    assert tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]


@pytest.mark.parametrize("sym", [Symbology.AZTEC, Symbology.DATA_MATRIX, Symbology.PDF417], ids=lambda s: s.name)
def test_zbar_reads_nothing_it_does_not_support(sym: Symbology) -> None:
    assert decode(frame(sym), backend="zbar") == []


def test_binary_payloads_stay_bytes_and_text_stays_text() -> None:
    blob = b"\x00\xff\xfe signed"
    binary = np.asarray(zxingcpp.create_barcode(blob, zxingcpp.BarcodeFormat.QRCode).to_image(scale=4))
    text = np.asarray(zxingcpp.create_barcode("Grüße 😀", zxingcpp.BarcodeFormat.Aztec).to_image(scale=4))
    assert [d.payload for d in decode(binary)] == [blob]
    assert [d.payload for d in decode(text)] == ["Grüße 😀"]
    assert decode(binary)[0].text is None and decode(text)[0].payload_bytes == "Grüße 😀".encode()


def test_only_the_wanted_symbologies_are_reported() -> None:
    image = frame(Symbology.QR_CODE)
    assert decode(image, symbologies=frozenset({Symbology.CODE_128})) == []
    assert decode(image, symbologies=frozenset()) == []
    assert decode(image, backend="zbar", symbologies=frozenset({Symbology.AZTEC})) == []


@pytest.mark.parametrize(
    "image",
    [np.zeros((0, 0), np.uint8), np.zeros((0, 640), np.uint8), np.zeros((1, 1), np.uint8), np.zeros((5, 400), np.uint8),
     np.zeros((1, 1, 3), np.uint8), np.full((480, 640), 255, np.uint8)],
    ids=["empty", "no-rows", "1x1", "thin", "1x1-color", "blank"],
)
@pytest.mark.parametrize("backend", ["zxing", "zbar"])
def test_images_too_small_or_blank_read_as_nothing(image: np.ndarray, backend: Backend) -> None:
    assert decode(image, backend=backend) == []
    assert Pipeline(backend=backend).read(image) == []


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((48, 48), np.float32), TypeError, "uint8"),
        (np.zeros((48, 48), np.uint16), TypeError, "uint8"),
        ([[0, 255], [255, 0]], TypeError, "numpy array"),
        (None, TypeError, "numpy array"),
        (np.zeros((2, 48, 48, 3), np.uint8), ValueError, "shape"),
        (np.zeros((48, 48, 2), np.uint8), ValueError, "shape"),
    ],
    ids=["float", "uint16", "list", "none", "4d", "2-channel"],
)
def test_what_is_not_an_image_is_a_clear_error(image: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        decode(image)
    with pytest.raises(error, match=match):
        Pipeline().read(image)


def test_colour_and_odd_layouts_are_read_as_grey() -> None:
    gray = frame(Symbology.QR_CODE)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
    for image in (bgr, bgra, gray[:, :, None], gray[::-1, ::-1], np.asfortranarray(gray)):
        assert [d.payload for d in decode(image)] == [payload(Symbology.QR_CODE)]


def test_an_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown decoder backend 'zxing2'"):
        decode(frame(Symbology.QR_CODE), backend="zxing2")  # type: ignore[arg-type]


def test_pyzbar_raising_on_an_image_reads_as_nothing_and_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # What libzbar does on some images: an orientation of -1 that pyzbar 0.1.9's enum refuses.
    monkeypatch.setattr(pyzbar, "zbar_symbol_get_orientation", lambda symbol: 0xFFFFFFFF)
    image = frame(Symbology.QR_CODE)
    with pytest.raises(ValueError, match="ZBarOrientation"):
        pyzbar.decode(image)
    with caplog.at_level(logging.WARNING, logger="gate.scanner"):
        assert decode(image, backend="zbar") == []
        assert Pipeline(backend="zbar").read(image) == []
    assert any("zbar decoder failed" in r.getMessage() for r in caplog.records)


def test_zxing_raising_reads_as_nothing(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(zxingcpp, "read_barcodes", broken)
    with caplog.at_level(logging.WARNING, logger="gate.scanner"):
        assert decode(frame(Symbology.QR_CODE)) == []
        assert Pipeline().read(frame(Symbology.PDF417, Scene(tilt=30))) == []


@pytest.fixture
def no_zbar(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # As on a machine without libzbar0: the import fails.
    monkeypatch.setitem(sys.modules, "pyzbar", None)
    _pyzbar.cache_clear()
    yield
    _pyzbar.cache_clear()


@pytest.mark.usefixtures("no_zbar")
def test_a_missing_backend_says_what_to_install() -> None:
    with pytest.raises(BackendUnavailable, match="libzbar0"):
        decode(frame(Symbology.QR_CODE), backend="zbar")
    with pytest.raises(BackendUnavailable, match="zbar"):
        Pipeline(backend="zbar")
    assert decode(frame(Symbology.QR_CODE)) != []  # the default backend is unaffected


@pytest.mark.parametrize("backend", ["zxing", "zbar"])
def test_decoding_lets_other_threads_run(backend: Backend) -> None:
    # The camera reader decodes in a worker thread; the event loop must keep running meanwhile.
    noise = np.random.default_rng(3).integers(0, 256, (1400, 1400), dtype=np.uint8)
    ticks = 0
    done = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            decode(noise, backend=backend)
        except BaseException as exc:  # surfaced below, instead of leaving the loop spinning
            failures.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=work)
    worker.start()
    started = time.perf_counter()
    deadline = started + 60
    while not done.is_set() and time.perf_counter() < deadline:
        ticks += 1
    elapsed = time.perf_counter() - started
    worker.join(timeout=60)
    assert done.is_set(), "decode did not finish within a minute"
    assert not failures, failures
    # A decoder holding the GIL would leave this loop a handful of turns at each 5 ms switch.
    assert elapsed > 0.02
    assert ticks / elapsed > 200_000
