"""The format documentation and its example cannot drift from the models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from gate import records
from gate.cache import Ledger
from gate.cache.codec import ENTITLEMENT_CLASSES, RECORD_CLASSES
from gate.records import PERSONAL_DATA_KEYS, RECORD_TYPES

from .helpers import EXAMPLE

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md"
PARTS: tuple[type[BaseModel], ...] = (
    records.Access, records.Limit, records.Window, records.Period, records.EntryBenefit, records.DiscountBenefit,
    records.ConfirmDeadline, records.RedemptionWindow, records.Slot, records.Tombstone,
)  # fmt: skip


def test_the_example_has_every_type_kind_and_a_tombstone() -> None:
    rows = [json.loads(text) for text in EXAMPLE.read_text().splitlines() if text.strip()]
    assert rows[0] == {"type": "header", "format": "gate-ledger", "version": 1}
    assert {r["type"] for r in rows[1:]} == set(RECORD_TYPES)
    assert {r["kind"] for r in rows if r["type"] == "entitlement"} == set(ENTITLEMENT_CLASSES)
    assert any(r.get("deleted") for r in rows)


@pytest.mark.parametrize("model", [*RECORD_CLASSES.values(), *ENTITLEMENT_CLASSES.values(), *PARTS],
                         ids=lambda m: m.__name__)  # fmt: skip
def test_every_field_is_documented(model: type[BaseModel]) -> None:
    text = DOC.read_text()
    missing = [name for name in model.model_fields if f"`{name}`" not in text]
    assert not missing, f"{model.__name__}: {missing} not in docs/ledger-format.md"


def test_every_type_kind_and_personal_key_is_named() -> None:
    text = DOC.read_text()
    for name in (*RECORD_TYPES, *ENTITLEMENT_CLASSES, *PERSONAL_DATA_KEYS):
        assert f"`{name}`" in text, name


def test_the_documents_json_examples_import(tmp_path: Path) -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    lines = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    assert len(lines) >= 8
    with Ledger.open(tmp_path / "doc.sqlite") as ledger:
        ledger.import_lines(lines[:1], source="header")
        ledger.import_lines([line for line in lines if '"header"' not in line], source="docs")
        assert ledger.resolve("MEM-0042-2024") == ("m-2025-0042",)
        assert ledger.resolve("A-2") == ("t-9",) and ledger.resolve("A-1") == ()
