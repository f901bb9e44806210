"""sd_notify without libsystemd: datagrams to $NOTIFY_SOCKET (a path, or '@name' for the abstract namespace).

The protocol is newline-separated KEY=VALUE pairs in one datagram (READY=1, STATUS=...,
WATCHDOG=1, STOPPING=1, EXTEND_TIMEOUT_USEC=...). Sending never raises: a daemon must not die
because systemd went away, and outside systemd (no $NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("gate.daemon")


class Notifier:
    """Talks to the service manager that started this process, if any."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None
        self._warned = False
        if address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier systemd's environment describes ($NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID)."""
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        raw = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process meant to ping; a child that inherited the variables must not.
        if raw.isdigit() and int(raw) > 0 and (not pid or pid == str(os.getpid())):
            usec = int(raw)
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half the watchdog timeout, as sd_watchdog_enabled(3) advises."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2_000_000

    def notify(self, *fields: str) -> bool:
        """Send KEY=VALUE fields in one datagram; whether it was sent."""
        if self._socket is None or self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        payload = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8")
        try:
            self._socket.sendto(payload, target)
        except OSError as exc:
            if not self._warned:  # once: a missing manager would otherwise flood the log
                log.warning("cannot notify systemd at %s: %s", self.address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> bool:
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def extend(self, seconds: float, status: str) -> bool:
        """More time for the phase in progress (a start that migrates the ledger): systemd then waits
        `seconds` for the next word, past TimeoutStartSec (EXTEND_TIMEOUT_USEC, systemd 236)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={round(seconds * 1_000_000)}", f"STATUS={status}")

    def stopping(self, status: str = "stopping") -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
