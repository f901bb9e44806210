"""A kiosk venue for the kiosk screen's tests: a real `gate run` of kiosk lane k1 serving its screen,
its scanner on the venue's pty, and a ledger with vouchers, a credit membership, a membership and
a reservation; and a second `gate run`, of turnstile lane l1, on the same ledger file."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import subprocess
import sys
import threading
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

from gate.cli import main
from tests.daemon.conftest import ROOT, DaemonProcess, Start, Venue, lane_config, wait_ready
from tests.display.screens import free_port

PARIS = ZoneInfo("Europe/Paris")


def kiosk_records(now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Hamlet three times (folded at 3, the first on now), Tosca once; vouchers for both, one long expired; a member's
    credit card (2 credits for entries and guides), her membership, and her unpaid reservation."""
    now = (now or dt.datetime.now(PARIS)).replace(microsecond=0)
    show = now + dt.timedelta(minutes=30)  # its admission is open now (from 60 min before)
    day = now.date()
    perf = {"seat_categories": ["Stalls"], "tariffs": ["Adult"]}
    voucher = {"type": "entitlement", "kind": "voucher", "version": 1, "events": ["hamlet", "tosca"],
               "seat_categories": ["Stalls"], "tariffs": ["Adult"]}  # fmt: skip
    return [
        {"type": "header", "format": "gate-ledger", "version": 1},
        {"type": "holder", "id": "h-k", "version": 1, "display_name": "Anna Keller"},
        {"type": "product", "id": "guide", "version": 1, "name": "Audio guide", "price_cents": 500},
        {"type": "event", "id": "hamlet", "version": 1, "name": "Hamlet"},
        {"type": "event", "id": "tosca", "version": 1, "name": "Tosca"},
        *({"type": "performance", "id": f"p-hamlet-{i}", "version": 1, "event": "hamlet",
           "starts_at": (show + dt.timedelta(days=i)).isoformat(), **perf} for i in range(3)),
        {"type": "performance", "id": "p-tosca", "version": 1, "event": "tosca",
         "starts_at": (show + dt.timedelta(hours=1)).isoformat(), **perf},
        *({**voucher, "id": f"v-{n}", "references": [f"GIFT-{n}"]} for n in (1, 2, 3)),
        {**voucher, "id": "v-old", "references": ["GIFT-OLD"], "expires_on": (day - dt.timedelta(days=2)).isoformat()},
        {"type": "entitlement", "kind": "credit_membership", "id": "cm-1", "version": 1, "holder": "h-k",
         "references": ["CARD-1"], "credits": 2, "eligible_products": ["entry", "guide"],
         "purchased_at": (now - dt.timedelta(days=10)).isoformat(), "purchase_tz": "Europe/Paris",
         "expires_on": (day + dt.timedelta(days=300)).isoformat()},
        {"type": "entitlement", "kind": "membership", "id": "m-1", "version": 1, "holder": "h-k",
         "references": ["MEMBER-1"], "valid_from": (day - dt.timedelta(days=30)).isoformat(),
         "expires_on": (day + dt.timedelta(days=300)).isoformat(),
         "benefits": [{"kind": "entry", "name": "Free entry"}, {"kind": "discount", "name": "", "percent": 10}]},
        {"type": "entitlement", "kind": "reservation", "id": "r-1", "version": 1, "holder": "h-k",
         "references": ["RES-1"], "performance": "p-hamlet-1", "pax": 2, "paid": False,
         "booked_at": now.isoformat(), "confirm": {"days_after_booking": 2}},
    ]  # fmt: skip


def kiosk_sections(venue: Venue, **kiosk: Any) -> dict[str, Any]:
    """The config sections of kiosk lane k1's daemon (l1 stays in the config, for the lane daemon)."""
    return {
        "lanes": {"k1": {"zone": "main", "kiosk": True}},
        "kiosk": kiosk,
        "readers": {"scan": {"type": "serial", "lane": "k1", "port": venue.port, "dedupe_seconds": 0}},
        "daemon": {"lane": "k1"},
    }


def import_records(venue: Venue) -> None:
    lines = venue.dir / "kiosk.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in kiosk_records()) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0


def serve_kiosk(venue: Venue, start_daemon: Start, **kiosk: Any) -> tuple[DaemonProcess, str]:
    """The kiosk's daemon, its screen on a free port: (daemon, url of its page)."""
    port = free_port()
    venue.write_config(display={"enabled": True, "port": port}, **kiosk_sections(venue, **kiosk))
    import_records(venue)
    daemon = start_daemon()
    wait_ready(daemon)
    return daemon, f"http://127.0.0.1:{port}/"


@contextmanager
def lane_daemon(venue: Venue) -> Iterator[tuple[Venue, DaemonProcess]]:
    """`gate run` of turnstile lane l1 on the kiosk venue's ledger file, with a pty scanner of its own."""
    master, slave = pty.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    folder = venue.dir / "lane"
    folder.mkdir()
    lane = Venue(folder, folder / "gate.toml", master, os.ttyname(slave))
    lane.write_config(ledger={"path": str(venue.ledger)})
    process = subprocess.Popen(
        [sys.executable, "-m", "gate", "run", "--config", str(lane.config)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    daemon = DaemonProcess(process, lane)
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: daemon.output.extend(iter(stdout.readline, "")), daemon=True).start()
    try:
        wait_ready(daemon)
        yield lane, daemon
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        os.close(master)
        os.close(slave)


__all__ = ["lane_config", "lane_daemon", "serve_kiosk"]
