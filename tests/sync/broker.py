"""A real Mosquitto for the sync tests: Debian's, on a free loopback port, killed and started at will.

Run as root, Mosquitto drops to its own user, which cannot read pytest's private temporary
folders: its files live in a folder of their own under /tmp, readable by all, with the
persistence folder given to the mosquitto user. Run as anybody else, it stays that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Broker:
    """One Mosquitto: `start()`, `kill()` (-9), `start()` again on the same port and files."""

    def __init__(
        self, *, persistence: bool = True, users: dict[str, str] | None = None, acl: str | None = None,
        tls: tuple[Path, Path, Path] | None = None, bridge: str | None = None, files: Sequence[Path] = (),
    ) -> None:  # fmt: skip
        """`users` (name: password) and `acl` (Mosquitto's acl_file text): no anonymous client;
        `tls` (CA, certificate, key): the listener speaks TLS only; `bridge`: a bridge's lines
        (`connection NAME` and its options), last in the file, where `{dir}` is this broker's own
        folder, into which `files` (the central broker's CA, say) are copied, readable by Mosquitto."""
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="gate-mosquitto-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.data = self.dir / "data"
        self.data.mkdir()
        if os.geteuid() == 0:
            user = pwd.getpwnam("mosquitto")
            os.chown(self.data, user.pw_uid, user.pw_gid)
        self.log = self.dir / "mosquitto.log"
        self.config = self.dir / "mosquitto.conf"
        secure = ""
        if users is not None:
            passwords = self.dir / "passwd"
            passwords.touch()
            for name, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), name, password], check=True, timeout=10)
            passwords.chmod(0o644)  # Mosquitto, dropped to its own user, reads it
            secure += f"password_file {passwords}\n"
        if acl is not None:
            rules = self.dir / "acl"
            rules.write_text(acl)
            rules.chmod(0o644)
            secure += f"acl_file {rules}\n"
        if tls is not None:
            # Copied into the broker's own folder: it cannot read pytest's private ones.
            ca, cert, key = (Path(shutil.copy(path, self.dir / path.name)) for path in tls)
            for path in (ca, cert, key):
                path.chmod(0o644)
            secure += f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        for path in files:
            shutil.copy(path, self.dir / path.name)
            (self.dir / path.name).chmod(0o644)
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'false' if users is not None else 'true'}\n"
            f"{secure}"
            f"persistence {'true' if persistence else 'false'}\n"
            f"persistence_location {self.data}/\n"
            "autosave_interval 1\n"
            "set_tcp_nodelay true\n"
            "log_dest stdout\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
            + ("" if bridge is None else bridge.replace("{dir}", str(self.dir)))
        )
        self.config.chmod(0o644)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def kill(self) -> None:
        """SIGKILL: what it acknowledged but did not save is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
