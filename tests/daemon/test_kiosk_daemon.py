"""A kiosk as a real `gate run` process: a scanner on a pty, sessions driven on the control socket."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from zoneinfo import ZoneInfo

from gate.cache import Ledger
from gate.cli import main
from gate.daemon.control import request
from tests.configs import write_config
from tests.daemon.conftest import Start, Venue, wait_ready

PARIS = ZoneInfo("Europe/Paris")


def _records() -> list[dict[str, Any]]:
    now = dt.datetime.now(PARIS)
    show = (now + dt.timedelta(hours=3)).replace(microsecond=0)
    later = show + dt.timedelta(days=1)
    return [
        {"type": "header", "format": "gate-ledger", "version": 1},
        {"type": "event", "id": "hamlet", "version": 1, "name": "Hamlet"},
        {"type": "performance", "id": "p-today", "version": 1, "event": "hamlet", "starts_at": show.isoformat()},
        {"type": "performance", "id": "p-later", "version": 1, "event": "hamlet", "starts_at": later.isoformat()},
        {"type": "entitlement", "kind": "voucher", "id": "v-1", "version": 1, "references": ["GIFT-1"],
         "events": ["hamlet"]},
        {"type": "entitlement", "kind": "voucher", "id": "v-2", "version": 1, "references": ["GIFT-2"],
         "events": ["hamlet"]},
    ]  # fmt: skip


def _kiosk(venue: Venue) -> None:
    # A kiosk lane k1 beside the lane l1, its scanner on the venue's pty; no turnstile.
    write_config(
        venue.config,
        lanes={"k1": {"zone": "main", "kiosk": True}},
        kiosk={"inactivity_s": 2},
        readers={"scan": {"type": "serial", "lane": "k1", "port": venue.port, "dedupe_seconds": 0}},
        daemon={"lane": "k1", "control_socket": "run/control.sock", "clock": {"require_sync": False}},
    )
    lines = venue.dir / "kiosk.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in _records()) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0


def _ask(venue: Venue, payload: dict[str, Any]) -> dict[str, Any]:
    answer = request(venue.socket, payload)
    assert answer["ok"], answer
    return answer


def _session(venue: Venue, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session = _ask(venue, {"op": "kiosk_session"})["session"]
        if session is not None:
            return dict(session)
        time.sleep(0.05)
    raise AssertionError("no kiosk session opened")


def test_a_kiosk_redeems_a_voucher_and_a_left_session_times_out(venue: Venue, start_daemon: Start) -> None:
    _kiosk(venue)
    daemon = start_daemon()
    status = wait_ready(daemon)
    assert status["lane"]["kind"] == "kiosk" and status["lane"]["passage"] is None

    # The scanner reads a voucher: a session opens, with every performance it may be redeemed for.
    venue.scan("GIFT-1")
    session = _session(venue)
    (code,) = session["codes"]
    assert (code["entitlement_id"], code["decision"]["reason"]) == ("v-1", "choose_performance")
    options = {o["performance"]: o["decision"]["reason"] for o in code["options"]}
    assert options == {"p-today": "redeemed", "p-later": "redeemed"}

    # Choose holds, confirm commits: the voucher became an admission.
    held = _ask(venue, {"op": "kiosk_choose", "session": session["session"], "performance": "p-today"})["session"]
    assert held["state"] == "held" and [h["decision"]["reason"] for h in held["held"]] == ["redeemed"]
    done = _ask(venue, {"op": "kiosk_confirm", "session": session["session"]})["session"]
    assert done["state"] == "confirmed"
    # A kiosk user acts on the session of the code read there only: an old session id is refused.
    stale = request(venue.socket, {"op": "kiosk_confirm", "session": session["session"]})
    assert stale == {"ok": False, "error": f"no open kiosk session {session['session']!r} at lane k1"}

    # The redeemed voucher shown again: already redeemed, for which show and when; nothing to choose.
    venue.scan("GIFT-1")
    deadline = time.monotonic() + 10
    while (again := _session(venue))["session"] == session["session"] and time.monotonic() < deadline:
        time.sleep(0.05)
    (code,) = again["codes"]
    assert code["decision"]["reason"] == "voucher_used" and code["options"] == []
    assert code["decision"]["params"]["show"] == "Hamlet" and "used_at" in code["decision"]["params"]

    # A second voucher chosen, then left alone: the inactivity timer releases it.
    venue.scan("GIFT-2")
    deadline = time.monotonic() + 10
    while (second := _session(venue))["session"] == again["session"] and time.monotonic() < deadline:
        time.sleep(0.05)
    _ask(venue, {"op": "kiosk_choose", "session": second["session"], "performance": "p-later"})
    deadline = time.monotonic() + 10
    while _ask(venue, {"op": "kiosk_session"})["session"] is not None:
        assert time.monotonic() < deadline, "the session never ended"
        time.sleep(0.1)
    assert daemon.stop() == 0

    with Ledger.open(venue.ledger) as ledger:
        journal = ledger.journal()
        lookups = [e for e in journal if e.type == "lookup"]
        # Each session's first read (the redeemed voucher's code now finds its admission).
        assert [e.entitlement_id for e in lookups] == ["v-1", "v-1:admission", "v-2"]
        committed = [e for e in journal if e.type == "redemption.committed"]
        assert [e.entitlement_id for e in committed] == ["v-1"]
        (released,) = [e for e in journal if e.type == "redemption.released"]
        assert released.entitlement_id == "v-2" and released.body["why"] == "kiosk: expired"
        assert ledger.open_holds() == []
        # The admission the kiosk issued is what the code now finds; the other voucher is untouched.
        assert [e.id for e in ledger.find("GIFT-1")] == ["v-1:admission"]
        assert [e.id for e in ledger.find("GIFT-2")] == ["v-2"]
