"""What the hub's store keeps of devices and remote commands (SQLite; gate/hub/store.py calls these).

- `device`: each device's versions, from its newest health message: the software, the exchange
  format it reads and the payload versions it reads. The hub sends nothing newer than the
  oldest of them reads (gate/hub/versions.py).
- `command`: each remote command the hub signed (`gate hub command`), when it went out, and what
  the device answered. The running `gate hub` sends the ones not sent yet and not expired.
- The ledger keys the log has retired (its version-2 batches), so the hub never signs with one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import NamedTuple

from gate.sync.commands import CommandResult, RemoteCommand
from gate.sync.payloads import Health

SCHEMA = """
CREATE TABLE IF NOT EXISTS device (
    id TEXT PRIMARY KEY,
    software TEXT NOT NULL,
    format INTEGER NOT NULL,
    payloads TEXT NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS command (
    nonce TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    payload TEXT NOT NULL,
    expires REAL NOT NULL,
    made_at REAL NOT NULL,
    sent_at REAL,
    outcome TEXT,
    reason TEXT,
    detail TEXT,
    answered_at REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS command_unsent ON command (expires) WHERE sent_at IS NULL;
"""
_NOTE_DEVICE = """
INSERT INTO device (id, software, format, payloads, at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET software = excluded.software, format = excluded.format,
    payloads = excluded.payloads, at = excluded.at
WHERE excluded.at >= device.at
"""
_UNSENT = "SELECT payload FROM command WHERE sent_at IS NULL AND expires >= ? ORDER BY made_at LIMIT 100"
_ANSWERED = """
UPDATE command SET outcome = ?, reason = ?, detail = ?, answered_at = ?
WHERE nonce = ? AND device = ? AND answered_at IS NULL
"""
# v2 batches are the ones that change keys: few, so reading them all is cheap.
_KEY_BATCHES = "SELECT seq, payload FROM batch WHERE json_extract(payload, '$.v') >= 2 ORDER BY seq"


class DeviceVersions(NamedTuple):
    device: str
    software: str
    format: int  # the exchange format's version it reads
    payloads: tuple[int, ...]  # the payload versions it reads
    at: float  # its health message's time


class Answer(NamedTuple):
    outcome: str  # done, refused
    reason: str
    detail: str


def note_device(conn: sqlite3.Connection, health: Health) -> None:
    row = (health.device, health.software, health.format, json.dumps(health.payloads), health.at)
    conn.execute(_NOTE_DEVICE, row)


def devices(conn: sqlite3.Connection) -> list[DeviceVersions]:
    rows = conn.execute("SELECT id, software, format, payloads, at FROM device ORDER BY id")
    return [DeviceVersions(d, s, f, tuple(json.loads(p)), at) for d, s, f, p, at in rows]


def add_command(conn: sqlite3.Connection, command: RemoteCommand) -> None:
    conn.execute("INSERT INTO command (nonce, device, payload, expires, made_at) VALUES (?, ?, ?, ?, ?)",
                 (command.nonce, command.device, command.model_dump_json(), command.expires, time.time()))  # fmt: skip


def unsent_commands(conn: sqlite3.Connection, now: float) -> list[RemoteCommand]:
    return [RemoteCommand.model_validate_json(payload) for (payload,) in conn.execute(_UNSENT, (now,))]


def commands_sent(conn: sqlite3.Connection, nonces: list[str]) -> None:
    now = time.time()
    conn.executemany("UPDATE command SET sent_at = ? WHERE nonce = ?", [(now, nonce) for nonce in nonces])


def withdraw(conn: sqlite3.Connection, nonce: str) -> bool:
    """Whether the command was still unsent, and now never will be."""
    return conn.execute("UPDATE command SET expires = 0 WHERE nonce = ? AND sent_at IS NULL", (nonce,)).rowcount == 1


def command_answered(conn: sqlite3.Connection, result: CommandResult) -> bool:
    """Keep a device's answer (the first: a replayed command's 'replayed' never overwrites it)."""
    row = (result.outcome, result.reason, result.detail, result.at, result.nonce, result.device)
    return conn.execute(_ANSWERED, row).rowcount == 1


def answer(conn: sqlite3.Connection, nonce: str) -> Answer | None:
    row = conn.execute("SELECT outcome, reason, detail FROM command WHERE nonce = ? AND outcome IS NOT NULL",
                       (nonce,)).fetchone()  # fmt: skip
    return None if row is None else Answer(*row)


def retired_keys(conn: sqlite3.Connection) -> dict[str, int]:
    """Ledger key ids the log's batches retired, with the batch that did."""
    retired: dict[str, int] = {}
    for seq, payload in conn.execute(_KEY_BATCHES):
        for key_id in (json.loads(payload).get("keys") or {}).get("retire", []):
            retired.setdefault(key_id, seq)
    return retired
