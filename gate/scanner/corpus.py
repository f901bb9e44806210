"""The shared photo corpus (`shared/corpus/barcodes`): samples and the rule for "read".

Used by the decode bench and the scanner tests, so both count the same way: an image counts
as read when a decoded payload equals its expectation (`N.txt` as UTF-8 text, `N.bin` as raw
bytes), surrounding whitespace ignored. Images in `falsepositives-*` folders have no code: any
read there is a false positive.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .decoders import Gray
from .symbology import Symbology

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")

#: Folder name prefix -> the symbology its images hold (None: no code at all).
FOLDERS: dict[str, Symbology | None] = {
    "qrcode": Symbology.QR_CODE,
    "aztec": Symbology.AZTEC,
    "pdf417": Symbology.PDF417,
    "datamatrix": Symbology.DATA_MATRIX,
    "code128": Symbology.CODE_128,
    "ean13": Symbology.EAN_13,
    "falsepositives": None,
}


@dataclass(frozen=True, slots=True)
class Sample:
    path: Path
    symbology: Symbology | None
    """None for a false-positive image."""
    expected: bytes | None
    binary: bool
    """The expectation is raw bytes (`N.bin`), not text (`N.txt`)."""

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"

    def load(self) -> Gray:
        image = cv2.imread(str(self.path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise OSError(f"cannot read image {self.path}")
        return np.asarray(image, dtype=np.uint8)

    def is_read(self, payloads: Iterable[str | bytes]) -> bool:
        """Whether one of `payloads` is this sample's expectation (never for a false positive)."""
        if self.expected is None:
            return False
        want = self.expected.strip()
        for payload in payloads:
            data = payload.encode("utf-8") if isinstance(payload, str) else payload
            if data.strip() == want:
                return True
        return False


_IN_SHARED = Path("shared", "corpus", "barcodes")


def default_root() -> Path:
    """`$GATE_BARCODE_CORPUS`, else `shared/corpus/barcodes` beside the repository, else
    beside the repository this one was cloned from (a fresh clone in a temporary directory,
    as CI makes, has no `shared/` beside it)."""
    env = os.environ.get("GATE_BARCODE_CORPUS")
    if env:
        return Path(env)
    return root_for(Path(__file__).resolve().parents[2])


def root_for(repository: Path) -> Path:
    """The corpus beside `repository`, or beside the one it was cloned from; the first when
    neither has it (so the error names where it was looked for)."""
    beside = repository.parent / _IN_SHARED
    if beside.is_dir():
        return beside
    origin = _origin(repository)
    if origin is not None and (origin.parent / _IN_SHARED).is_dir():
        return origin.parent / _IN_SHARED
    return beside


def _origin(repository: Path) -> Path | None:
    """The local directory `repository` was cloned from, if it was cloned from one."""
    try:
        url = subprocess.run(
            ["git", "-C", str(repository), "config", "--get", "remote.origin.url"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://"))
    return path.resolve() if url and path.is_absolute() and path.is_dir() else None


def load(root: Path) -> list[Sample]:
    """Every image of the corpus, folders and files in name order."""
    if not root.is_dir():
        raise FileNotFoundError(f"barcode corpus not found at {root} (set GATE_BARCODE_CORPUS)")
    samples: list[Sample] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        prefix = folder.name.rsplit("-", 1)[0]
        if prefix not in FOLDERS:
            continue
        symbology = FOLDERS[prefix]
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            text, raw = path.with_suffix(".txt"), path.with_suffix(".bin")
            if symbology is None:
                samples.append(Sample(path, None, None, binary=False))
            elif text.exists():
                samples.append(Sample(path, symbology, text.read_bytes(), binary=False))
            elif raw.exists():
                samples.append(Sample(path, symbology, raw.read_bytes(), binary=True))
    return samples
