"""Mixed versions: the hub sends no device anything newer than it reads.

Each device says in its health message (every 30 s, retained) which exchange-format version
and which payload versions it reads; the hub keeps the newest of each device's
(gate/hub/registry.py). Before the hub signs something only a newer device reads (a file in
a newer exchange format, a version-2 batch of key changes), it checks every device it knows
and refuses, naming the ones to upgrade first. A device the hub never heard from is not
known: it refuses what it cannot read itself ("batch n refused ..." in its health) and keeps
deciding on what it has.
"""

from __future__ import annotations

import json

from gate.errors import GateError
from gate.hub.store import HubStore


class TooNew(GateError):
    """Something a device of the site would not read: which device, and what it reads."""


def check_payload(store: HubStore, version: int, what: str) -> None:
    """TooNew unless every known device reads payload `version`."""
    behind = [d for d in store.devices() if version not in d.payloads]
    if behind:
        names = ", ".join(f"{d.device} (gate {d.software}, payloads {'/'.join(map(str, d.payloads))})" for d in behind)
        raise TooNew(f"{what} needs payload version {version}, which {names} cannot read: upgrade it first")


def check_format(store: HubStore, lines: list[str], what: str) -> None:
    """TooNew when the file's exchange format (its header's version) is newer than a known device reads."""
    version = _format_of(lines)
    if version is None:
        return  # no header: the import says what is wrong with the file
    behind = [d for d in store.devices() if d.format < version]
    if behind:
        names = ", ".join(f"{d.device} (gate {d.software}, format {d.format})" for d in behind)
        raise TooNew(f"{what} is in exchange format {version}, newer than {names} reads: upgrade it first")


def _format_of(lines: list[str]) -> int | None:
    first = next((line for line in lines if line.strip()), "")
    try:
        header = json.loads(first)
    except ValueError:
        return None
    version = header.get("version") if isinstance(header, dict) and header.get("type") == "header" else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None
