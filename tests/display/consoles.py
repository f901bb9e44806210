"""Staff for the console's tests: a steward and a supervisor with PINs, a badge key, signed badges,
and a small websocket client of the console (`Console`) for the tests that need no browser."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
import json
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate.cli import main
from gate.credentials import StaffBadge, encode_badge
from gate.staff import hash_pin
from tests.daemon.conftest import Venue

STEWARD = ("s-1", "2468")
SUPERVISOR = ("s-2", "1357")
BADGE_KEY = Ed25519PrivateKey.generate()
_HASHES = {pin: hash_pin(pin) for _, pin in (STEWARD, SUPERVISOR)}  # scrypt once per test process


def staff_records(*, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The staff, their badge key, and codes to refuse (tomorrow's ticket) and to check (a child's)."""
    day = today or dt.datetime.now(dt.UTC).date()
    raw = BADGE_KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public = base64.b64encode(raw).decode()
    return [
        {"type": "staff", "id": STEWARD[0], "version": 1, "role": "steward", "name": "Ana B.",
         "pin": _HASHES[STEWARD[1]]},
        {"type": "staff", "id": SUPERVISOR[0], "version": 1, "role": "supervisor", "name": "Leo C.",
         "pin": _HASHES[SUPERVISOR[1]]},
        {"type": "key", "id": "badges", "version": 1, "purpose": "staff", "public_key": public},
        {"type": "entitlement", "kind": "ticket", "id": "t-later", "version": 1,
         "day": (day + dt.timedelta(days=1)).isoformat(), "references": ["LATER"]},
        {"type": "entitlement", "kind": "ticket", "id": "t-kid", "version": 1, "day": day.isoformat(),
         "flags": ["child"], "references": ["KID"]},
    ]  # fmt: skip


def import_staff(venue: Venue) -> None:
    """The staff records into the venue's ledger, as an operator imports them."""
    lines = venue.dir / "staff.jsonl"
    header = {"type": "header", "format": "gate-ledger", "version": 1}
    lines.write_text("\n".join(json.dumps(r) for r in [header, *staff_records()]) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0


def badge(staff_id: str = SUPERVISOR[0], role: str = "supervisor", *, now: dt.datetime | None = None) -> str:
    """A signed staff badge's text, valid from an hour ago for a day."""
    at = now or dt.datetime.now(dt.UTC)
    claim = StaffBadge("badges", f"b-{staff_id}", staff_id, role, at - dt.timedelta(hours=1),  # type: ignore[arg-type]
                       at + dt.timedelta(days=1))  # fmt: skip
    return encode_badge(claim, BADGE_KEY)


class Console:
    """A console page without a browser: its websocket, its messages, its requests by id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.url = ""  # the display's, when a test needs another page beside this one
        self.seen: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    async def next(self, kind: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        """The next message of type `kind` (with `fields`), past the others."""
        async with asyncio.timeout(timeout):
            while True:
                message: dict[str, Any] = await self.ws.receive_json()
                self.seen.append(message)
                if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                    return message

    async def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send `message` with a fresh id; its answer."""
        asked = next(self._ids)
        await self.ws.send_json({**message, "id": asked})
        return await self.next("answer", id=asked)

    async def login(self, staff: str, pin: str) -> dict[str, Any]:
        return await self.ask({"type": "login", "staff": staff, "pin": pin})

    async def command(self, **command: Any) -> dict[str, Any]:
        return await self.ask({"type": "command", "command": command})
