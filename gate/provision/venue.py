"""The venue file of `gate provision`: what every device of one venue shares (docs/scale.md, "Provisioning").

One TOML file per venue, kept by the operator on the venue box (or wherever the broker's password
file and the CA are). Strict as the gate config is: unknown keys are refused, every problem is
named by its key path. Relative paths are relative to the file.

    site = "louvre"                        # [sync] site of its devices
    template = "device.toml.in"            # the device config, with ${placeholders}
    state = "louvre-devices.json"          # what was provisioned (gate provision keeps it)
    bundles = "bundles"                    # where bundles are written

    [broker]
    host = "venue-box.local"               # what the devices connect to
    port = 8883
    password_file = "/etc/mosquitto/passwd"
    reload = ["systemctl", "reload", "mosquitto"]

    [tls]
    ca_file = "/etc/gate-pki/ca.crt"
    ca_key_file = "/etc/gate-pki/ca.key"   # client certificates: each device gets one
    crl_file = "/etc/mosquitto/gate.crl"

    [hub]
    ledger_keys = { hub = "..." }
    command_keys = { hub-command = "..." }
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from gate.config import _problems
from gate.config_fields import ConfigPath, Host, Line, Listed, Section
from gate.errors import GateError

# A device id is a broker user name, a topic level, a certificate's CN and a file name: narrower
# than the config's Id (which allows `/`, `:` and `+`).
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PUBLIC_KEY = r"^[A-Za-z0-9+/]{43}=$"
KeyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class ProvisionError(GateError):
    """What `gate provision` cannot do, in one line naming the file, key or device (exit 2)."""


class BrokerSection(Section):
    host: Host = Field(description="The broker's address as the devices reach it ([sync] host).")
    port: int = Field(default=8883, ge=1, le=65_535, description="Its port ([sync] port).")
    password_file: ConfigPath | None = Field(
        default=None,
        description="The broker's password file (mosquitto_passwd): each device gets a user, its id, with a new "
        "password. None: devices authenticate by certificate only.",
    )  # fmt: skip
    reload: Listed[Line] = Field(
        default=("systemctl", "reload", "mosquitto"),
        description="The command that makes the broker read its files again (SIGHUP: no restart); [] = say it.",
    )  # fmt: skip


class TlsSection(Section):
    ca_file: ConfigPath = Field(description="The CA certificate: devices check the broker's against it.")
    ca_key_file: ConfigPath | None = Field(
        default=None,
        description="The CA's private key (PEM, mode 0600): with it each device gets a client certificate "
        "signed by it, and a replaced one's is revoked in crl_file.",
    )  # fmt: skip
    crl_file: ConfigPath | None = Field(default=None, description="The CRL the broker reads (mosquitto crlfile).")
    certificate_days: int = Field(default=825, ge=1, le=3650, description="A device certificate's lifetime.")
    crl_days: int = Field(
        default=365, ge=1, le=3650,
        description="The CRL's validity: written again at every change and by `gate provision crl`; the broker "
        "refuses every certificate once it has lapsed.",
    )  # fmt: skip

    @model_validator(mode="after")
    def _crl_with_key(self) -> TlsSection:
        if (self.ca_key_file is None) != (self.crl_file is None):
            raise ValueError("tls.ca_key_file and tls.crl_file go together: certificates issued must be revocable")
        return self


class HubKeys(Section):
    ledger_keys: dict[KeyId, Annotated[str, Field(pattern=PUBLIC_KEY)]] = Field(
        min_length=1, description="The hub's ledger keys, public ([sync] ledger_keys of every device)."
    )
    command_keys: dict[KeyId, Annotated[str, Field(pattern=PUBLIC_KEY)]] = Field(
        default_factory=dict, description="The hub's command keys, public ([sync] command_keys); none: no commands."
    )


class DeviceFiles(Section):
    dir: ConfigPath = Field(default=Path("/etc/gate"), description="Where the device keeps its config and secrets.")
    password_file: ConfigPath = Field(
        default=Path("/run/credentials/gate-sync.service/mqtt-password"),
        description="The password file as the device's config names it: systemd/gate-sync.service hands "
        "<dir>/mqtt-password to gate sync as this credential.",
    )  # fmt: skip


class Venue(Section):
    site: KeyId = Field(description="The site's id ([sync] site).")
    template: ConfigPath = Field(description="The device config's template (TOML with ${placeholders}).")
    state: ConfigPath = Field(default=Path("provisioned.json"), description="What was provisioned, kept here.")
    bundles: ConfigPath = Field(default=Path("bundles"), description="Where bundles are written.")
    broker: BrokerSection
    tls: TlsSection | None = None
    hub: HubKeys
    device: DeviceFiles = Field(default_factory=DeviceFiles)

    @model_validator(mode="after")
    def _credentials(self) -> Venue:
        if self.broker.password_file is None and (self.tls is None or self.tls.ca_key_file is None):
            raise ValueError("broker.password_file or tls.ca_key_file: a device needs a password or a certificate")
        if not self.device.dir.is_absolute() or not self.device.password_file.is_absolute():
            raise ValueError("device.dir and device.password_file are the device's own paths: absolute ones")
        return self

    @property
    def certificates(self) -> bool:
        return self.tls is not None and self.tls.ca_key_file is not None


def load_venue(path: Path) -> Venue:
    """The venue file at `path`, its relative paths made relative to it; ProvisionError naming every problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProvisionError(f"venue file {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError, RecursionError) as exc:
        raise ProvisionError(f"venue file {path}: not valid TOML: {exc}") from exc
    try:
        venue = Venue.model_validate(data)
    except ValidationError as exc:
        raise ProvisionError(f"venue file {path}: " + "; ".join(_problems(exc))) from None
    base = path.parent

    def at(p: Path) -> Path:
        return p if p.is_absolute() else (base / p).resolve()

    tls = venue.tls
    if tls is not None:
        tls = tls.model_copy(update={
            "ca_file": at(tls.ca_file),
            "ca_key_file": at(tls.ca_key_file) if tls.ca_key_file else None,
            "crl_file": at(tls.crl_file) if tls.crl_file else None,
        })  # fmt: skip
    broker = venue.broker
    if broker.password_file is not None:
        broker = broker.model_copy(update={"password_file": at(broker.password_file)})
    return venue.model_copy(update={
        "template": at(venue.template), "state": at(venue.state), "bundles": at(venue.bundles), "tls": tls,
        "broker": broker,
    })  # fmt: skip


def check_device_id(device: str) -> str:
    if not DEVICE_ID.fullmatch(device):
        raise ProvisionError(f"not a usable device id {device!r}: 1 to 64 of A-Z a-z 0-9 . _ -, from a letter or "
                             "digit (it is the broker user, a topic level and the certificate's name)")
    return device
