"""Fixtures: real ledger files in tmp_path, the documented example imported."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.cache import Ledger

from .helpers import EXAMPLE


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    with Ledger.open(ledger_path) as opened:
        opened.import_file(EXAMPLE)
        yield opened
