"""`gate check --commit` at a kiosk: what opens lanes is for the lanes, and the kiosk consumes none of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate.cache import Ledger
from gate.cli import main
from tests.configs import write_config

NOON, LATER = "2026-06-01T12:00+02:00", "2026-06-01T12:05+02:00"
RECORDS = [
    {"type": "event", "id": "lear", "version": 1, "name": "King Lear"},
    {"type": "performance", "id": "lear-1", "version": 1, "event": "lear", "starts_at": "2026-06-01T12:30+02:00"},
    {"type": "entitlement", "kind": "membership", "id": "m1", "version": 1, "valid_from": "2026-01-01",
     "expires_on": "2026-12-31", "references": ["MEMBER"],
     "benefits": [{"kind": "entry", "access": {"limits": [{"per": "day", "count": 1}]}}]},
    {"type": "entitlement", "kind": "subscription", "id": "s1", "version": 1, "events": ["lear"], "quantity": 1,
     "references": ["SUB"]},
    {"type": "entitlement", "kind": "reservation", "id": "r1", "version": 1, "performance": "lear-1", "paid": True,
     "booked_at": "2026-05-01T10:00+02:00", "confirm": {"days_after_booking": 3}, "references": ["RES"]},
]  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path / "gate.toml", lanes={"k": {"zone": "main", "kiosk": True}})
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ledger.import_lines([json.dumps(r) for r in RECORDS], source="test")
    return path


def _check(config: Path, capsys: pytest.CaptureFixture[str], code: str, lane: str, at: str) -> tuple[int, Any]:
    status = main(["--config", str(config), "check", code, "--lane", lane, "--at", at, "--commit", "--json"])
    return status, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("code", "kind", "balance"),
    [("MEMBER", "membership", None), ("SUB", "subscription", 1), ("RES", "reservation", None)],
)
def test_read_at_a_kiosk_it_is_for_the_lanes_and_the_lane_still_admits(
    config: Path, capsys: pytest.CaptureFixture[str], code: str, kind: str, balance: int | None
) -> None:
    status, kiosk = _check(config, capsys, code, "k", NOON)
    assert status == 1 and (kiosk["reason"], kiosk["kind"], kiosk["balance"]) == ("for_lanes", kind, balance)
    assert kiosk["redemption"] is None and kiosk["admitted"] == 0
    # Nothing was consumed: the visit, the seat or the booking admits at the lane.
    status, lane = _check(config, capsys, code, "l1", LATER)
    assert status == 0 and (lane["verdict"], lane["reason"]) == ("admit", "ok"), lane
    with Ledger.open(config.parent / "ledger.sqlite") as ledger:
        assert [(e.lane, e.type) for e in ledger.journal() if e.entitlement_id is not None] == [
            ("k", "refusal"), ("l1", "redemption.committed"),
        ]  # fmt: skip
