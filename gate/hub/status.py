"""What the hub keeps of each device's state, for `gate hub report devices` (SQLite; gate/hub/store.py
calls these).

Each device publishes, retained, its health every 30 s (`devices/<id>/health`: outbox, batch and
head, clock offset, ledger problem, versions) and its presence (`devices/<id>/online`: `online`,
or `offline` from its will when the broker loses it). The running `gate hub` subscribes to both
and keeps the newest of each per device, with when it arrived; a report reads them with the
device's newest event. A health message is checked (gate.sync.payloads.Health) before it is kept.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, NamedTuple

from gate.sync.payloads import Health

SCHEMA = """
CREATE TABLE IF NOT EXISTS device_status (
    device TEXT PRIMARY KEY,
    online TEXT,
    online_at REAL,
    health TEXT,
    health_at REAL
) WITHOUT ROWID;
"""
_PRESENCE = """
INSERT INTO device_status (device, online, online_at) VALUES (?, ?, ?)
ON CONFLICT (device) DO UPDATE SET online = excluded.online, online_at = excluded.online_at
"""
_HEALTH = """
INSERT INTO device_status (device, health, health_at) VALUES (?, ?, ?)
ON CONFLICT (device) DO UPDATE SET health = excluded.health, health_at = excluded.health_at
WHERE device_status.health_at IS NULL OR excluded.health_at >= device_status.health_at
"""
_STATUS = """
SELECT d.device, s.online, s.online_at, s.health, s.health_at, d.last, d.events FROM (
    SELECT device, max(last) AS last, sum(events) AS events FROM (
        SELECT device, NULL AS last, 0 AS events FROM device_status
        UNION ALL
        SELECT device, max(at), count(*) FROM event WHERE repeat = 0 GROUP BY device)
    GROUP BY device) AS d
LEFT JOIN device_status s ON s.device = d.device
ORDER BY d.device
"""


class DeviceStatus(NamedTuple):
    device: str
    online: bool | None  # None: never heard on its presence topic
    online_at: float | None  # when the hub heard it last
    health: dict[str, Any] | None  # its newest health message (gate.sync.payloads.Health)
    health_at: float | None  # that message's own time
    last_event: float | None  # its newest event's time
    events: int  # its events the hub holds, each once


def note_presence(conn: sqlite3.Connection, device: str, online: bool, at: float) -> None:
    conn.execute(_PRESENCE, (device, "online" if online else "offline", at))


def note_health(conn: sqlite3.Connection, health: Health) -> None:
    conn.execute(_HEALTH, (health.device, health.model_dump_json(), health.at))


def statuses(conn: sqlite3.Connection) -> list[DeviceStatus]:
    found = []
    for device, online, online_at, health, health_at, last, events in conn.execute(_STATUS):
        state = None if online is None else online == "online"
        message = None if health is None else json.loads(health)
        found.append(DeviceStatus(device, state, online_at, message, health_at, last, int(events or 0)))
    return found
