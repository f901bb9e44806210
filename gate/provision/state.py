"""What a venue has provisioned: its devices and every certificate issued, kept in one JSON file.

Changes are made under a lock (a flock on `<state>.lock`: one provisioning at a time per venue,
scripts may run venues in parallel) and written whole (a new file renamed over the old one). A
certificate is recorded as issued before its bundle is written, so one that a crash left behind
is still known, and revoked at the device's next provisioning.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gate.provision.pki import replace_file
from gate.provision.venue import ProvisionError

FORMAT = "gate-provision-state"


class State:
    """The venue's state file, open under its lock (`State.locked`)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.devices: dict[str, dict[str, Any]] = data.get("devices", {})
        self.certificates: list[dict[str, Any]] = data.get("certificates", [])

    @classmethod
    @contextlib.contextmanager
    def locked(cls, path: Path) -> Iterator[State]:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield cls(path, _read(path))
        finally:
            os.close(descriptor)

    def save(self) -> None:
        data = {"format": FORMAT, "version": 1, "devices": self.devices, "certificates": self.certificates}
        replace_file(self.path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), 0o600)

    def active(self, device: str) -> bool:
        return self.devices.get(device, {}).get("state") == "active"

    def issued(self, device: str, serial: int, not_after: dt.datetime) -> None:
        self.certificates.append({"serial": format(serial, "x"), "device": device, "issued": _now(),
                                  "not_after": not_after.isoformat(timespec="seconds"), "revoked": None})  # fmt: skip

    def revoke_certificates(self, device: str, *, keep: int | None = None) -> list[str]:
        """Every certificate of `device` not yet revoked, but `keep`: revoked now; their serials."""
        kept = None if keep is None else format(keep, "x")
        done = []
        for record in self.certificates:
            if record["device"] == device and record["revoked"] is None and record["serial"] != kept:
                record["revoked"] = _now()
                done.append(record["serial"])
        return done

    def revoked(self) -> list[tuple[int, dt.datetime]]:
        return [(int(r["serial"], 16), dt.datetime.fromisoformat(r["revoked"])) for r in self.certificates
                if r["revoked"] is not None]  # fmt: skip

    def set_device(self, device: str, *, state: str, serial: int | None) -> None:
        record = self.devices.setdefault(device, {"first": _now()})
        record.update({"state": state, "since": _now(), "serial": None if serial is None else format(serial, "x"),
                       "generation": int(record.get("generation", 0)) + (state == "active")})  # fmt: skip


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"state {path}: cannot read: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ProvisionError(f"state {path}: not JSON ({exc}): restore it from a backup") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProvisionError(f"state {path}: not a gate provision state file")
    return data


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
