"""What the snapshot and rebuild tests share: the hub's key, ledger files published into its log,
a device's lane deciding through the real engine, and what the hub's store holds."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gate.cache import Ledger
from gate.cli import main
from gate.config import load_config
from gate.engine import Engine
from gate.reasons import Reason
from tests.sync.conftest import Site

HEADER = {"type": "header", "format": "gate-ledger", "version": 1}


def hub_key(site: Site, capsys: pytest.CaptureFixture[str]) -> str:
    """A ledger key for the hub (keys/hub.key); its public half, for the devices' configs."""
    assert main(["keys", "generate", "--id", "hub", "--purpose", "ledger", "--out", str(site.dir / "keys")]) == 0
    line: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return str(line["public_key"])


def ticket(code: str, **extra: Any) -> dict[str, Any]:
    """A single-entry ticket for today, found by `code`."""
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
    return {"type": "entitlement", "kind": "ticket", "id": f"t-{code.lower()}", "version": 1, "day": today,
            "references": [code], **extra}  # fmt: skip


def publish(site: Site, hub_config: Path, name: str, *records: dict[str, Any]) -> None:
    """A ledger file of `records` into the hub's log (`gate hub publish`)."""
    path = site.dir / name
    with path.open("w") as out:
        for record in (HEADER, *records):
            out.write(json.dumps(record) + "\n")
    assert main(["hub", "publish", str(path), "--config", str(hub_config)]) == 0


def engine(config: Path, ledger: Ledger) -> Engine:
    return Engine(ledger, load_config(config))


def use(lane: Engine, code: str) -> None:
    """A visitor goes through lane l1 on `code`: held, then committed."""
    outcome = lane.admit(code, lane="l1", at=dt.datetime.now(dt.UTC))
    assert outcome.redemption is not None, outcome.decision
    lane.commit(outcome.redemption, at=dt.datetime.now(dt.UTC))


def reason(lane: Engine, code: str) -> Reason:
    return lane.decide(code, lane="l1", at=dt.datetime.now(dt.UTC)).decision.reason


def hub_has(site: Site, device: str, kind: str = "redemption.committed") -> int:
    """Events of `kind` of `device` in the hub's store (the test's hub: hub-hub.sqlite)."""
    with contextlib.closing(sqlite3.connect(site.dir / "hub-hub.sqlite")) as db:
        return int(db.execute("SELECT count(*) FROM event WHERE device = ? AND type = ?", (device, kind)).fetchone()[0])
