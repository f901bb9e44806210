"""`gate provision` at the venue: a device made a member (or replaced, or revoked) in one step.

Everything that can be refused is checked before anything is written: the device id, the
config made from the template (as `gate config check` would), the CA and its key. Then, under
the venue's lock: a certificate is recorded as issued, the bundle written (to a file first; to
standard output last), the broker's password file changed, the device's older certificates
revoked in the CRL, the state saved; and the broker reloaded (SIGHUP: no restart, connected
clients stay, the next connection meets the new files).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from gate.provision import broker
from gate.provision.bundle import make, write
from gate.provision.pki import Ca, replace_file, write_new
from gate.provision.state import State
from gate.provision.template import CA_FILE, CERT_FILE, CONFIG_FILE, KEY_FILE, PASSWORD_FILE, device_config
from gate.provision.venue import ProvisionError, Venue, check_device_id

PASSWORD_BYTES = 24  # 32 characters of URL-safe base64


@dataclass(slots=True)
class Done:
    """What one command changed, for people (`lines`) and scripts (`as_json`)."""

    device: str
    action: str
    bundle: str | None = None
    user: str | None = None
    serial: str | None = None
    not_after: str | None = None
    revoked: list[str] = field(default_factory=list)
    removed_user: bool = False
    reloaded: str | None = None
    reload_needed: bool = False

    def as_json(self) -> dict[str, object]:
        return {key: getattr(self, key) for key in self.__slots__}


def provision(venue: Venue, device: str, values: dict[str, str], *, replace: bool, out: Path | None) -> Done:
    """Make `device` a member of the venue; `out` None: the bundle to standard output."""
    check_device_id(device)
    text, _ = device_config(venue, device, values)
    ca = _ca(venue)
    ca_pem = _ca_pem(venue)
    with State.locked(venue.state) as state:
        if state.active(device) and not replace:
            raise ProvisionError(f"device {device} is provisioned already (since {state.devices[device]['since']}): "
                                 "--replace gives it new credentials and revokes the old ones")  # fmt: skip
        done = Done(device, "replaced" if state.active(device) else "provisioned",
                    bundle=str(out) if out is not None else "-")  # fmt: skip
        files = {CONFIG_FILE: text.encode()}
        password = None
        if venue.broker.password_file is not None:
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            files[PASSWORD_FILE] = (password + "\n").encode()
            done.user = device
        if ca_pem is not None:
            files[CA_FILE] = ca_pem
        issued = None
        if ca is not None:
            assert venue.tls is not None
            issued = ca.issue(device, venue.tls.certificate_days)
            state.issued(device, issued.serial, issued.not_after)
            state.save()  # known before it leaves this box: revocable even after a crash
            files[CERT_FILE], files[KEY_FILE] = issued.certificate, issued.key
            done.serial, done.not_after = format(issued.serial, "x"), issued.not_after.isoformat(timespec="seconds")
        bundle = make(device, venue.site, venue.device.dir, files)
        if out is not None:
            write(bundle, out)
        if password is not None and venue.broker.password_file is not None:
            broker.set_password(venue.broker.password_file, device, password)
        done.revoked = state.revoke_certificates(device, keep=issued.serial if issued is not None else None)
        if ca is not None:
            _write_crl(venue, ca, state)
        state.set_device(device, state="active", serial=issued.serial if issued is not None else None)
        state.save()
    _reload(venue, done)
    if out is None:
        write(bundle, None)
    return done


def revoke(venue: Venue, device: str) -> Done:
    """`device` out of the venue: its broker user removed, its certificates revoked."""
    ca = _ca(venue)
    with State.locked(venue.state) as state:
        if device not in state.devices:
            raise ProvisionError(f"device {device} was never provisioned at {venue.state}")
        done = Done(device, "revoked")
        if venue.broker.password_file is not None:
            done.removed_user = broker.remove_user(venue.broker.password_file, device)
        done.revoked = state.revoke_certificates(device)
        if ca is not None:
            _write_crl(venue, ca, state)
        state.set_device(device, state="revoked", serial=None)
        state.save()
    _reload(venue, done)
    return done


def refresh_crl(venue: Venue) -> Done:
    """The CRL written again (a new next update), and the broker reloaded: run it from cron."""
    ca = _ca(venue)
    if ca is None:
        raise ProvisionError("the venue file has no tls.ca_key_file: no certificates, no CRL")
    with State.locked(venue.state) as state:
        _write_crl(venue, ca, state)
        done = Done("-", "crl", revoked=[format(serial, "x") for serial, _ in state.revoked()])
    _reload(venue, done)
    return done


def init(venue: Venue, broker_names: list[str]) -> list[str]:
    """What a venue needs before its first device: the CA (made when both its files are missing),
    the broker's certificate for `broker_names`, the empty CRL, the password file; what was made."""
    made: list[str] = []
    tls = venue.tls
    ca = None
    if tls is not None and tls.ca_key_file is not None:
        if not tls.ca_file.exists() and not tls.ca_key_file.exists():
            ca = Ca.create(tls.ca_file, tls.ca_key_file, f"gate {venue.site} CA")
            made.append(f"CA {tls.ca_file} (key {tls.ca_key_file}, mode 0600: keep it off the venue box if you can)")
        else:
            ca = Ca.load(tls.ca_file, tls.ca_key_file)
    if broker_names:
        if ca is None or tls is None or tls.ca_key_file is None:
            raise ProvisionError("--broker-name needs tls.ca_key_file in the venue file: the CA signs the broker's")
        issued = ca.issue(broker_names[0], tls.certificate_days, server_names=broker_names)
        certificate, key = tls.ca_file.with_name("broker.crt"), tls.ca_file.with_name("broker.key")
        write_new(key, issued.key, 0o640)
        _broker_group(key)
        write_new(certificate, issued.certificate, 0o644)
        made.append(f"broker certificate {certificate} for {', '.join(broker_names)} (key {key}, group mosquitto)")
    if ca is not None and tls is not None and tls.crl_file is not None and not tls.crl_file.exists():
        with State.locked(venue.state) as state:
            _write_crl(venue, ca, state)
        made.append(f"CRL {tls.crl_file}")
    password_file = venue.broker.password_file
    if password_file is not None and not password_file.exists():
        write_new(password_file, b"", 0o640)
        _broker_group(password_file)
        made.append(f"password file {password_file} (empty; the hub's user: mosquitto_passwd {password_file} hub)")
    return made


def _ca(venue: Venue) -> Ca | None:
    tls = venue.tls
    if tls is None or tls.ca_key_file is None:
        return None
    return Ca.load(tls.ca_file, tls.ca_key_file)


def _ca_pem(venue: Venue) -> bytes | None:
    if venue.tls is None:
        return None
    try:
        data = venue.tls.ca_file.read_bytes()
        x509.load_pem_x509_certificate(data)
    except OSError as exc:
        raise ProvisionError(f"tls.ca_file {venue.tls.ca_file}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ProvisionError(f"tls.ca_file {venue.tls.ca_file}: not a PEM certificate ({exc})") from exc
    return data


def _write_crl(venue: Venue, ca: Ca, state: State) -> None:
    assert venue.tls is not None and venue.tls.crl_file is not None
    replace_file(venue.tls.crl_file, ca.crl(state.revoked(), venue.tls.crl_days), 0o644)  # public: serials only


def _reload(venue: Venue, done: Done) -> None:
    try:
        done.reloaded = broker.reload(venue.broker.reload)
    except ProvisionError as exc:
        what = "the CRL written" if done.action == "crl" else f"device {done.device} {done.action} (files and state)"
        raise ProvisionError(f"{what}, but {exc}: reload the broker by hand (systemctl reload mosquitto)") from None
    done.reload_needed = done.reloaded is None


def _broker_group(path: Path) -> None:
    """Readable by Mosquitto, which reads its files again as its own user on SIGHUP."""
    if os.geteuid() != 0:
        return
    with contextlib.suppress(KeyError):  # no such group: the file stays root's
        os.chown(path, 0, grp.getgrnam("mosquitto").gr_gid)


def when(text: str | None) -> str:
    return dt.datetime.fromisoformat(text).date().isoformat() if text else "-"
