"""Symbologies named by their AIM identifier, the one vocabulary every reader speaks.

Hardware scanners prefix their output with an AIM symbology identifier (ISO/IEC 15424:
``]`` + a code character + a modifier), zxing-cpp reports the same identifier, and ZBar only
names its symbol types. The rest of gate (the config, a `Read`, the credentials) uses
`Symbology`, so a camera and a serial scanner that see the same card produce the same read.

A symbology's value is its usual AIM identifier (``]Q1`` for a QR Code without ECI). The
modifier can differ for one symbology (``]Q3`` is a GS1 QR Code, ``]E4`` an EAN-8, ``]C1`` a
GS1-128), so identifiers are matched on their first two characters; `Decoded.aim` keeps the
full identifier a decoder reported.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Symbology(enum.Enum):
    """A barcode family, valued by its canonical AIM identifier."""

    QR_CODE = "]Q1"
    AZTEC = "]z0"
    PDF417 = "]L2"
    DATA_MATRIX = "]d1"
    CODE_128 = "]C0"
    EAN_13 = "]E0"
    EAN_8 = "]E4"
    CODE_39 = "]A0"
    CODE_93 = "]G0"
    ITF = "]I0"
    CODABAR = "]F0"

    @property
    def aim_prefix(self) -> str:
        """``]`` and the code character: what every identifier of this family starts with."""
        return self.value[:2]

    @property
    def label(self) -> str:
        return _LABELS[self]

    @classmethod
    def from_aim(cls, aim: str) -> Symbology | None:
        """The family of an AIM identifier such as ``]Q3`` (None for an unknown one).

        EAN-13, EAN-8, UPC-A and UPC-E all share ``]E``: the modifier ``4`` is EAN-8, any
        other is the EAN-13 family (UPC-A is an EAN-13 with a leading zero).
        """
        if len(aim) < 2 or aim[0] != "]":
            return None
        if aim[:2] == "]E":
            return cls.EAN_8 if aim[2:3] == "4" else cls.EAN_13
        return _BY_PREFIX.get(aim[:2])

    @classmethod
    def parse(cls, name: str) -> Symbology:
        """A symbology from a config value: an AIM identifier (``]Q1``), a member name
        (``QR_CODE``) or a usual label (``QR Code``, ``qr``, ``code128``, ``ean13``)."""
        text = name.strip()
        if text.startswith("]"):
            found = cls.from_aim(text)
            if found is not None:
                return found
        key = "".join(ch for ch in text.lower() if ch.isalnum())
        if key in _ALIASES:
            return _ALIASES[key]
        known = ", ".join(sorted({*(m.name.lower() for m in cls), *(m.value for m in cls)}))
        raise ValueError(f"unknown symbology {name!r}; known: {known}")


def parse_symbologies(names: Iterable[str]) -> frozenset[Symbology]:
    """Every name parsed, so a config error names the bad value instead of dropping it."""
    return frozenset(Symbology.parse(name) for name in names)


_LABELS: dict[Symbology, str] = {
    Symbology.QR_CODE: "QR Code",
    Symbology.AZTEC: "Aztec",
    Symbology.PDF417: "PDF417",
    Symbology.DATA_MATRIX: "Data Matrix",
    Symbology.CODE_128: "Code 128",
    Symbology.EAN_13: "EAN-13",
    Symbology.EAN_8: "EAN-8",
    Symbology.CODE_39: "Code 39",
    Symbology.CODE_93: "Code 93",
    Symbology.ITF: "ITF",
    Symbology.CODABAR: "Codabar",
}

_BY_PREFIX: dict[str, Symbology] = {member.aim_prefix: member for member in Symbology if member is not Symbology.EAN_8}

_ALIASES: dict[str, Symbology] = {}
for _member in Symbology:
    _ALIASES["".join(ch for ch in _member.name.lower() if ch.isalnum())] = _member
    _ALIASES["".join(ch for ch in _member.label.lower() if ch.isalnum())] = _member
_ALIASES.update(
    {
        "qr": Symbology.QR_CODE,
        "datamatrix": Symbology.DATA_MATRIX,
        "dm": Symbology.DATA_MATRIX,
        "upca": Symbology.EAN_13,
        "upce": Symbology.EAN_13,
        "interleaved2of5": Symbology.ITF,
        "i25": Symbology.ITF,
    }
)

#: What a lane accepts unless configured otherwise: every Wallet pass format, and the 1D codes
#: printed on tickets and membership cards. Fewer symbologies also mean fewer chances for a
#: texture to decode as a short 1D code, and less time per frame.
DEFAULT_SYMBOLOGIES: frozenset[Symbology] = frozenset(
    {
        Symbology.QR_CODE,
        Symbology.AZTEC,
        Symbology.PDF417,
        Symbology.DATA_MATRIX,
        Symbology.CODE_128,
        Symbology.EAN_13,
    }
)

# Backend format names. zxing-cpp's names are its BarcodeFormat member names (looked up on the
# module at run time, so this file does not import the native library); ZBar's are the
# `type` strings pyzbar returns and the ZBarSymbol names it accepts.
ZXING_FORMATS: dict[Symbology, tuple[str, ...]] = {
    Symbology.QR_CODE: ("QRCode",),
    Symbology.AZTEC: ("Aztec",),
    Symbology.PDF417: ("PDF417",),
    Symbology.DATA_MATRIX: ("DataMatrix",),
    Symbology.CODE_128: ("Code128",),
    Symbology.EAN_13: ("EAN13", "UPCA", "UPCE"),
    Symbology.EAN_8: ("EAN8",),
    Symbology.CODE_39: ("Code39",),
    Symbology.CODE_93: ("Code93",),
    Symbology.ITF: ("ITF",),
    Symbology.CODABAR: ("Codabar",),
}

ZBAR_TYPES: dict[Symbology, tuple[str, ...]] = {
    Symbology.QR_CODE: ("QRCODE",),
    Symbology.PDF417: ("PDF417",),  # ZBar names it but reads none (0 of 58 in the corpus)
    Symbology.CODE_128: ("CODE128",),
    Symbology.EAN_13: ("EAN13", "UPCA", "UPCE", "ISBN13"),
    Symbology.EAN_8: ("EAN8",),
    Symbology.CODE_39: ("CODE39",),
    Symbology.CODE_93: ("CODE93",),
    Symbology.ITF: ("I25",),
    Symbology.CODABAR: ("CODABAR",),
}

ZBAR_SYMBOLOGY: dict[str, Symbology] = {name: sym for sym, names in ZBAR_TYPES.items() for name in names}
ZXING_SYMBOLOGY: dict[str, Symbology] = {name: sym for sym, names in ZXING_FORMATS.items() for name in names}
