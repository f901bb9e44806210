"""A big file is validated by worker processes: same problems, same counts, same ledger."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger, LedgerImportError, pool

from .helpers import EXAMPLE


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file goes through two workers, in chunks small enough to interleave."""
    monkeypatch.setattr(pool, "MIN_BYTES", 0)
    monkeypatch.setattr(pool, "CHUNK_LINES", 7)
    monkeypatch.setattr(pool, "workers", lambda: 2)


def outcome(path: Path, target: Path) -> tuple[Any, ...]:
    """What an import of `path` into a new ledger reports, or the problems it refuses with."""
    with Ledger.open(target) as ledger:
        try:
            report = ledger.import_file(path)
        except LedgerImportError as exc:
            return ("refused", exc.problems, exc.total, ledger.stats()["records"])
        out = io.StringIO()
        ledger.export(out)
        return ("imported", report.applied, report.unchanged, report.deleted, report.lines, out.getvalue())


def bad_file(path: Path) -> Path:
    good = EXAMPLE.read_bytes().splitlines()
    lines = [good[0], b"", *good[1:]]
    for n in range(60):
        lines.append(json.dumps({"type": "holder", "id": f"h-{n}", "version": 1, "display_name": "Ann S."}).encode())
        if n % 9 == 0:
            lines.append(b'{"type":"holder","id":"x","version":1,"display_name":"\xff"}')  # not UTF-8
        if n % 11 == 0:
            lines.append(json.dumps({"type": "holder", "id": f"h-{n}", "version": 1, "email": "a@b.c"}).encode())
        if n % 13 == 0:
            lines.append(b'{"type":"header","format":"gate-ledger","version":1}')  # not first
    lines.append(b'{"type": "holder", "id": "h-0", "version": 1, "display_name": "Other N."}')  # conflict
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_bad_file_is_refused_with_the_same_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bad_file(tmp_path / "bad.jsonl")
    alone = outcome(path, tmp_path / "alone.sqlite")
    monkeypatch.setattr(pool, "MIN_BYTES", 0)
    monkeypatch.setattr(pool, "CHUNK_LINES", 7)
    monkeypatch.setattr(pool, "workers", lambda: 2)
    pooled = outcome(path, tmp_path / "pooled.sqlite")
    assert alone[0] == "refused" and pooled == alone
    assert len({p.line for p in alone[1]}) > 10 and alone[3]["holder"] == 0


@pytest.mark.usefixtures("pooled")
def test_a_good_file_imports_as_it_would_alone(tmp_path: Path) -> None:
    path = tmp_path / "good.jsonl"
    text = EXAMPLE.read_text() + "".join(
        json.dumps({"type": "holder", "id": f"h-{n}", "version": 1, "display_name": "Ann S."}) + "\n"
        for n in range(100)
    )
    path.write_text(text)
    pooled = outcome(path, tmp_path / "pooled.sqlite")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pool, "MIN_BYTES", 1 << 60)
        alone = outcome(path, tmp_path / "alone.sqlite")
    assert pooled[0] == "imported" and pooled == alone


@pytest.mark.usefixtures("pooled")
def test_a_file_that_is_only_a_header_or_empty(tmp_path: Path) -> None:
    for name, content in (("header.jsonl", EXAMPLE.read_text().splitlines()[0] + "\n"), ("empty.jsonl", "")):
        path = tmp_path / name
        path.write_text(content)
        assert outcome(path, tmp_path / f"{name}.sqlite")[0] == "imported"
