"""Symbologies: AIM identifiers from every source name the same family; config names parse."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp
from pyzbar import pyzbar

from gate.scanner import Symbology, decode, parse_symbologies
from gate.scanner.symbology import ZBAR_TYPES, ZXING_FORMATS
from gate.scanner.synth import render


@pytest.mark.parametrize(
    ("aim", "family"),
    [
        ("]Q1", Symbology.QR_CODE),
        ("]Q3", Symbology.QR_CODE),  # GS1 QR Code
        ("]z0", Symbology.AZTEC),
        ("]L2", Symbology.PDF417),
        ("]d1", Symbology.DATA_MATRIX),
        ("]d2", Symbology.DATA_MATRIX),  # GS1 DataMatrix
        ("]C0", Symbology.CODE_128),
        ("]C1", Symbology.CODE_128),  # GS1-128
        ("]E0", Symbology.EAN_13),
        ("]E4", Symbology.EAN_8),
        ("]A0", Symbology.CODE_39),
        ("]I0", Symbology.ITF),
    ],
)
def test_an_aim_identifier_names_its_family_whatever_the_modifier(aim: str, family: Symbology) -> None:
    assert Symbology.from_aim(aim) is family


@pytest.mark.parametrize("aim", ["", "]", "Q1", "]X0", "]q1"])
def test_an_unknown_identifier_is_no_symbology(aim: str) -> None:
    assert Symbology.from_aim(aim) is None


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("qr", Symbology.QR_CODE),
        ("QR Code", Symbology.QR_CODE),
        ("QR_CODE", Symbology.QR_CODE),
        ("]z0", Symbology.AZTEC),
        ("pdf417", Symbology.PDF417),
        ("Data Matrix", Symbology.DATA_MATRIX),
        ("code128", Symbology.CODE_128),
        ("Code 128", Symbology.CODE_128),
        ("EAN-13", Symbology.EAN_13),
        ("upca", Symbology.EAN_13),
        (" ean8 ", Symbology.EAN_8),
    ],
)
def test_config_names_parse(name: str, family: Symbology) -> None:
    assert Symbology.parse(name) is family


def test_a_bad_config_name_is_reported_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown symbology 'maxicode'.*qr_code"):
        parse_symbologies(["qr", "maxicode"])
    assert parse_symbologies(["qr", "]Q1", "code128"]) == {Symbology.QR_CODE, Symbology.CODE_128}


def test_every_backend_name_exists_in_the_installed_libraries() -> None:
    for names in ZXING_FORMATS.values():
        for name in names:
            assert hasattr(zxingcpp.BarcodeFormat, name), name
    for names in ZBAR_TYPES.values():
        for name in names:
            assert name in pyzbar.ZBarSymbol.__members__, name


SAMPLES = {
    Symbology.QR_CODE: "GATE-M-1",
    Symbology.AZTEC: "GATE-T-2",
    Symbology.PDF417: "GATE-T-3",
    Symbology.DATA_MATRIX: "GATE-V-4",
    Symbology.CODE_128: "T000123",
    Symbology.EAN_13: "4006381333931",
    Symbology.EAN_8: "96385074",
    Symbology.CODE_39: "GATE-123",
    Symbology.CODE_93: "GATE-123",
    Symbology.ITF: "12345678",
    Symbology.CODABAR: "A123456B",
}


@pytest.mark.parametrize("sym", list(Symbology), ids=lambda s: s.name)
def test_every_symbology_is_read_back_with_its_aim_identifier(sym: Symbology) -> None:
    image = np.pad(render(SAMPLES[sym], sym, module=3), 20, constant_values=255)
    found = decode(image, symbologies=frozenset(Symbology))
    assert [(d.symbology, d.aim[:2]) for d in found] == [(sym, sym.aim_prefix)]
    # Codabar's start/stop letters belong to the symbol, not to the data a lane looks up.
    assert found[0].payload in (SAMPLES[sym], SAMPLES[sym][1:-1])
