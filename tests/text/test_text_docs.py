"""docs/reasons.md is generated from the code and must be regenerated when the code changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.reasons import Reason
from gate.text import reasons_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "reasons.md"


def test_docs_reasons_md_is_up_to_date() -> None:
    expected = reasons_doc.generate()
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert current == expected, (
        "docs/reasons.md is out of date: run `python -m gate.text.reasons_doc > docs/reasons.md`"
    )


def test_every_code_is_documented_with_its_texts() -> None:
    doc = reasons_doc.generate()
    for reason in Reason:
        assert f"## `{reason.value}`" in doc
    assert "| Valid from 14:00 |" in doc
    assert "Unpaid reservation; confirm by Sat 19 Dec, 23:59" in doc


def test_main_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    reasons_doc.main()
    assert capsys.readouterr().out == reasons_doc.generate()
