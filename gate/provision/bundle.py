"""A provisioning bundle: one tar file with a device's config and secrets, and `provision.json`
saying what each file is (its digest and mode) and where it goes on the device.

`gate provision device` writes it (mode 0600: it holds the device's password and key); `gate
provision apply` on the device checks it whole before it installs anything: only the names
below, each file's SHA-256 as listed, the config valid as a lane daemon's config and naming the
bundle's device; then each file is written beside its place and renamed over it, the config
last, so a config never names a file that is not there yet.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pwd
import sys
import tarfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gate.config import GateConfig, parse_config
from gate.provision.pki import replace_file
from gate.provision.template import CA_FILE, CERT_FILE, CONFIG_FILE, KEY_FILE, PASSWORD_FILE
from gate.provision.venue import DEVICE_ID, ProvisionError

MANIFEST = "provision.json"
MAX_BUNDLE_BYTES = 1_000_000
SERVICE_USER = "gate"
Name = Literal["gate.toml", "mqtt-password", "mqtt-ca.crt", "mqtt-client.crt", "mqtt-client.key"]
# name -> (mode, owner): the service user reads its config (group) and its key; root keeps the
# password, which systemd hands to gate sync as a credential (systemd/gate-sync.service).
PLACES: dict[str, tuple[int, str | None]] = {
    CONFIG_FILE: (0o640, "group"), PASSWORD_FILE: (0o600, None), CA_FILE: (0o644, None),
    CERT_FILE: (0o644, None), KEY_FILE: (0o600, "user"),
}  # fmt: skip


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    mode: int


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    format: Literal["gate-provision-bundle"]
    version: Literal[1]
    device: Annotated[str, Field(pattern=f"^{DEVICE_ID.pattern}$")]
    site: str
    made_at: str
    dir: str
    files: dict[Name, Entry]


def make(device: str, site: str, directory: Path, files: dict[str, bytes]) -> bytes:
    """The bundle's bytes: `files` by name, with their manifest."""
    entries = {name: {"sha256": hashlib.sha256(data).hexdigest(), "mode": PLACES[name][0]}
               for name, data in files.items()}  # fmt: skip
    manifest = {"format": "gate-provision-bundle", "version": 1, "device": device, "site": site,
                "made_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "dir": str(directory),
                "files": entries}  # fmt: skip
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [(MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n"), *files.items()]:
            info = tarfile.TarInfo(f"{device}/{name}")
            info.size, info.mode, info.mtime = len(data), PLACES.get(name, (0o644, None))[0], int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def write(bundle: bytes, target: Path | None) -> None:
    """To `target` (mode 0600, replaced whole), or to standard output (None: `--out -`)."""
    if target is None:
        sys.stdout.buffer.write(bundle)
        sys.stdout.buffer.flush()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_file(target, bundle, 0o600)


@dataclass(frozen=True, slots=True)
class Checked:
    manifest: Manifest
    files: dict[str, bytes]
    config: GateConfig


def read(source: Path | None) -> Checked:
    """A bundle from `source` (None: standard input), checked whole; ProvisionError naming what is wrong."""
    where = "standard input" if source is None else str(source)
    try:
        raw = sys.stdin.buffer.read(MAX_BUNDLE_BYTES + 1) if source is None else _read_file(source)
    except OSError as exc:
        raise ProvisionError(f"bundle {where}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BUNDLE_BYTES:
        raise ProvisionError(f"bundle {where}: more than {MAX_BUNDLE_BYTES} bytes: not a provisioning bundle")
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for info in tar.getmembers():
                name = info.name.rsplit("/", 1)[-1]
                if not info.isfile() or (name != MANIFEST and name not in PLACES) or name in members:
                    raise ProvisionError(f"bundle {where}: {info.name!r} is not a file a bundle holds")
                extracted = tar.extractfile(info)
                members[name] = extracted.read() if extracted is not None else b""
    except (tarfile.TarError, EOFError) as exc:
        raise ProvisionError(f"bundle {where}: not a tar file ({exc})") from exc
    try:
        manifest = Manifest.model_validate(json.loads(members.pop(MANIFEST)))
    except KeyError:
        raise ProvisionError(f"bundle {where}: no {MANIFEST}") from None
    except (ValueError, ValidationError) as exc:
        raise ProvisionError(f"bundle {where}: {MANIFEST} is not a bundle's manifest ({exc})") from None
    if set(members) != set(manifest.files):
        raise ProvisionError(f"bundle {where}: its files ({', '.join(sorted(members))}) are not the ones its manifest "
                             f"lists ({', '.join(sorted(manifest.files))})")  # fmt: skip
    for name, entry in manifest.files.items():
        if hashlib.sha256(members[name]).hexdigest() != entry.sha256 or entry.mode != PLACES[name][0]:
            raise ProvisionError(f"bundle {where}: {name} is not the file its manifest lists (changed since made?)")
    if not Path(manifest.dir).is_absolute():
        raise ProvisionError(f"bundle {where}: its folder {manifest.dir!r} is not an absolute path")
    if CONFIG_FILE not in members:
        raise ProvisionError(f"bundle {where}: no {CONFIG_FILE}")
    config = parse_config(members[CONFIG_FILE].decode("utf-8", "replace"), source=f"{where}: {CONFIG_FILE}",
                          daemon=True)  # fmt: skip
    if config.device.id != manifest.device:
        raise ProvisionError(f"bundle {where}: its config is device {config.device.id}'s, not {manifest.device}'s")
    return Checked(manifest, members, config)


def _read_file(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(MAX_BUNDLE_BYTES + 1)


def install(checked: Checked, *, force: bool) -> list[Path]:
    """The bundle's files in their folder, the config last; the paths written."""
    directory = Path(checked.manifest.dir)
    device = checked.manifest.device
    present = directory / CONFIG_FILE
    if present.exists() and not force:
        there = _device_of(present)
        if there != device:
            raise ProvisionError(f"{present} is device {there or 'unknown'}'s config, not {device}'s: "
                                 "gate provision apply --force replaces it")  # fmt: skip
    user = _service_user()
    if not directory.exists():
        directory.mkdir(mode=0o750, parents=True)  # as docs/install.md makes /etc/gate: root, group gate
        if user is not None:
            os.chown(directory, 0, user[1])
    written = []
    for name in sorted(checked.files, key=lambda n: n == CONFIG_FILE):
        target = directory / name
        mode, owner = PLACES[name]
        replace_file(target, checked.files[name], mode)
        if user is not None and owner is not None:
            uid, gid = user
            os.chown(target, uid if owner == "user" else 0, gid)
        written.append(target)
    return written


def _device_of(config: Path) -> str | None:
    try:
        device = tomllib.loads(config.read_text(encoding="utf-8")).get("device", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    found = device.get("id") if isinstance(device, dict) else None
    return found if isinstance(found, str) else None


def _service_user() -> tuple[int, int] | None:
    """The `gate` user's ids when installing as root (systemd/gate.sysusers made it); else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid
