"""The venue broker's side of provisioning: its password file (Debian's `mosquitto_passwd`) and
its reload.

A device's broker user is its id, so the ACL's `%u` patterns (docs/mqtt.md) cover every device
and nothing is added to the ACL per device. `mosquitto_passwd -b` replaces a user's password in
place (the file keeps its owner and mode); `-D` removes a user. Mosquitto reads the password file,
the ACL and the CRL again on SIGHUP (`systemctl reload mosquitto`), without a restart: the
clients connected stay, and the next connection is checked against the new files.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from gate.provision.venue import ProvisionError

TIMEOUT_S = 30


def _passwd() -> str:
    found = shutil.which("mosquitto_passwd")
    if found is None:
        raise ProvisionError("mosquitto_passwd not found: install Debian's mosquitto package on this box")
    return found


def _check_file(password_file: Path) -> None:
    if not password_file.is_file():
        raise ProvisionError(f"broker.password_file {password_file}: no such file (gate provision init makes it)")


def users(password_file: Path) -> set[str]:
    """The users the password file holds (`user:hash` lines)."""
    _check_file(password_file)
    try:
        lines = password_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"broker.password_file {password_file}: cannot read: {exc}") from exc
    return {line.split(":", 1)[0] for line in lines if ":" in line and not line.startswith("#")}


def set_password(password_file: Path, user: str, password: str) -> None:
    """Add `user`, or replace its password (the old one no longer works once the broker reloads).

    The password passes on mosquitto_passwd's command line for the moment it runs, on the box that
    holds the password file: run gate provision there as root, with no other users logged in."""
    _check_file(password_file)
    _run([_passwd(), "-b", str(password_file), user, password], f"cannot set {user}'s password in {password_file}")


def remove_user(password_file: Path, user: str) -> bool:
    """Remove `user` from the password file; whether it was there."""
    if user not in users(password_file):
        return False
    _run([_passwd(), "-D", str(password_file), user], f"cannot remove {user} from {password_file}")
    return True


def reload(command: Sequence[str]) -> str | None:
    """Run the venue file's reload command; None when it is empty (the caller says what to run)."""
    if not command:
        return None
    _run(list(command), "the broker was not reloaded")
    return " ".join(command)


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProvisionError(f"{what}: {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split())[:300]
        raise ProvisionError(f"{what}: {Path(argv[0]).name} exited {done.returncode}{': ' + said if said else ''}")
