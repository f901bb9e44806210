from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main
from tests.configs import ConfigFile

# A turnstile lane north-1 (one entry is an adult's) and a kiosk in the hall.
LANES = {
    "zones": {"hall": {"name": "Hall"}},
    "lanes": {
        "l1": None,
        "north-1": {"zone": "main", "product": "entry-adult"},
        "kiosk": {"zone": "hall", "kiosk": True},
    },
}

LEDGER = [
    {"type": "header", "format": "gate-ledger", "version": 1},
    {"type": "holder", "id": "h1", "version": 1, "display_name": "Marie Dupont"},
    {"type": "product", "id": "entry-adult", "version": 1, "name": "Adult", "price_cents": 1500},
    {"type": "product", "id": "year", "version": 1, "name": "Year", "validity": {"years": 1}},
    {"type": "entitlement", "kind": "membership", "id": "m-old", "version": 1, "holder": "h1",
     "product": "year", "valid_from": "2025-01-10", "references": ["OLD-CARD"]},
    {"type": "entitlement", "kind": "membership", "id": "m1", "version": 1, "holder": "h1", "product": "year",
     "valid_from": "2026-01-10", "renews": "m-old", "references": ["MEMBER-1"]},
    {"type": "entitlement", "kind": "ticket", "id": "t1", "version": 1, "day": "2026-06-01", "pax": 2,
     "references": ["TICKET-1"]},
    {"type": "entitlement", "kind": "credit_membership", "id": "c1", "version": 1, "holder": "h1", "credits": 3,
     "eligible_products": ["entry-adult"], "purchased_at": "2026-05-01T10:00:00+02:00",
     "purchase_tz": "Europe/Paris", "expires_on": "2026-12-31", "references": ["CREDIT-1"]},
]

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def venue(tmp_path: Path, config_file: ConfigFile) -> Path:
    """A config file (LANES) whose ledger holds LEDGER; returns the config path."""
    config = config_file(LANES)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(json.dumps(r) for r in LEDGER) + "\n")
    assert main(["--config", str(config), "ledger", "import", str(ledger)]) == 0
    return config


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], venue: Path) -> Run:
    def _run(*argv: str, config: Path | None = venue) -> tuple[int, str, str]:
        capsys.readouterr()
        prefix = ["--config", str(config)] if config else []
        code = main([*prefix, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def last_json(out: str) -> Any:
    return json.loads(out.strip().splitlines()[-1])
