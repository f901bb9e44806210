"""A real `gate run` serving its screens, for the browser tests: a free port, the daemon ready."""

from __future__ import annotations

import socket
from typing import Any

from tests.daemon.conftest import DaemonProcess, Start, Venue, wait_ready


def free_port() -> int:
    """A TCP port free on loopback now (the daemon, another process, binds it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_screens(venue: Venue, start_daemon: Start, **sections: Any) -> tuple[DaemonProcess, str]:
    """The venue's daemon with its display on a free port (and `sections` in its config): (daemon, url)."""
    port = free_port()
    venue.write_config(display={"enabled": True, "port": port}, **sections)
    daemon = start_daemon()
    wait_ready(daemon)
    return daemon, f"http://127.0.0.1:{port}/"
