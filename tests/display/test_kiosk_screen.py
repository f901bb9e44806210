"""The kiosk screen without a browser: its websocket against a real `gate run` kiosk (a pty scanner),
the wording of its sessions, the typed codes' limit, and the QR it draws read back by gate's own
decoder."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
from collections import deque
from typing import Any

import aiohttp
import cv2
import numpy as np

from gate.cache import Ledger
from gate.display.kiosk import typed_wait
from gate.display.kiosk_messages import INBOUND, qr_data_uri
from gate.scanner.decoders import decode
from tests.daemon.conftest import Start, Venue
from tests.display.kiosks import serve_kiosk
from tests.sync.conftest import until


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str, **fields: Any) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message: dict[str, Any] = await ws.receive_json()
            if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                return message


def _ws_url(url: str, lang: str = "en") -> str:
    return f"{url}ws?screen=kiosk&lang={lang}"


def test_a_voucher_session_is_worded_for_the_page_and_a_typed_membership_is_refused(
    venue: Venue, start_daemon: Start
) -> None:
    daemon, url = serve_kiosk(venue, start_daemon, typed_per_minute=3)
    asyncio.run(_voucher_session(venue, url))
    assert daemon.stop() == 0
    assert "Anna" not in daemon.log and "Keller" not in daemon.log  # logs name ids, never a holder


async def _voucher_session(venue: Venue, url: str) -> None:
    async with aiohttp.ClientSession() as client, client.ws_connect(_ws_url(url, "fr"), origin=url.rstrip("/")) as ws:
        status = await _next(ws, "status")
        assert (status["kind"], status["language"], status["screen"]) == ("kiosk", "fr", "normal")
        assert status["warn_s"] == 20 and status["fold_at"] == 3 and status["words"]["more_time"] == "Plus de temps"
        await _next(ws, "wipe")  # nothing open: the page starts clean

        venue.scan("GIFT-1")
        session = await _next(ws, "session", step="opened")
        assert session["tone"] == "info"  # a prompt, not a refusal
        assert (session["flow"], session["choosing"], session["text"]) == (
            "voucher",
            True,
            "Veuillez choisir une séance",
        )
        hamlet, tosca = session["events"]  # the nearest first: Hamlet at +30 min, Tosca at +90 min
        assert (hamlet["title"], hamlet["folded"], len(hamlet["performances"])) == ("Hamlet", True, 3)
        assert (tosca["title"], tosca["folded"]) == ("Tosca", False)
        assert tosca["performances"][0]["seat"] == "Catégorie : Stalls"
        assert tosca["performances"][0]["tariff"] == "Tarif : Adult"
        assert hamlet["expand"].startswith("Hamlet : 3 séances, à partir du ")

        # A second voucher read joins the session; choosing holds both, confirming commits both.
        venue.scan("GIFT-2")
        joined = await _next(ws, "session", step="joined")
        assert joined["together"] == "2 bons, utilisés ensemble"
        sid = session["session"]
        await ws.send_json({"type": "choose", "id": 1, "session": sid, "performance": "p-tosca"})
        assert (await _next(ws, "answer", id=1))["ok"] is True
        held = await _next(ws, "session", step="held")
        assert held["held"]["performance"] == "p-tosca" and held["held"]["lines"][0].startswith("Tosca · ")
        await ws.send_json({"type": "confirm", "id": 2, "session": sid})
        done = await _next(ws, "session", step="confirmed")
        (line,) = done["done"]["lines"]
        assert line.startswith("Vos 2 bons ouvrent désormais les couloirs pour Tosca, ")
        assert len(done["done"]["qrs"]) == 2
        await ws.send_json({"type": "done", "id": 3})
        await _next(ws, "wipe")

        # Typed: a voucher's code is read; a membership's number is refused, and nothing of it shown.
        await ws.send_json({"type": "typed", "id": 4, "code": "MEMBER-1"})
        refused = await _next(ws, "answer", id=4)
        assert refused["ok"] is False and refused["text"].startswith("Seul le code d'un bon")
        await ws.send_json({"type": "typed", "id": 5, "code": "GIFT-1"})
        assert (await _next(ws, "answer", id=5))["ok"] is True
        used = await _next(ws, "session", step="opened")
        assert used["text"].startswith("Bon déjà utilisé pour Tosca")  # what it was used for
        assert used["facts"][-1].startswith("Utilisé pour Tosca, ")
        # The third typed code within the minute is the last one allowed (3 here).
        await ws.send_json({"type": "typed", "id": 6, "code": "GIFT-3"})
        assert (await _next(ws, "answer", id=6))["ok"] is True
        await ws.send_json({"type": "typed", "id": 7, "code": "GIFT-9"})
        limited = await _next(ws, "answer", id=7)
        assert limited["ok"] is False and limited["text"].startswith("Trop de codes saisis")

        # A message the kiosk does not take is dropped, with why when it had an id.
        await ws.send_json({"type": "kiosk_confirm", "id": 8, "session": sid})
        assert (await _next(ws, "answer", id=8))["ok"] is False


def test_a_members_credits_membership_and_reservation_are_worded_with_nothing_private(
    venue: Venue, start_daemon: Start
) -> None:
    daemon, url = serve_kiosk(venue, start_daemon)
    asyncio.run(_member(venue, url))
    assert daemon.stop() == 0


async def _member(venue: Venue, url: str) -> None:
    async with aiohttp.ClientSession() as client, client.ws_connect(_ws_url(url), origin=url.rstrip("/")) as ws:
        await _next(ws, "status")
        venue.scan("CARD-1")
        card = await _next(ws, "session", step="opened")
        assert card["flow"] == "credits" and card["holder"] == "Hello, Anna K."
        assert "Credits left: 2" in card["facts"]
        assert {p["product"]: p["covered"] for p in card["products"]} == {
            "entry": "Covered by a credit",
            "guide": "Covered by a credit",
        }
        sid = card["session"]
        await ws.send_json({"type": "choose", "session": sid, "items": ["entry", "entry", "guide"]})
        held = await _next(ws, "session", step="held")
        # Two credits: the cheapest items first (the guide, one entry); one entry left to pay.
        assert held["held"]["lines"] == [
            "Paid with your credits: 1 × Audio guide, 1 × Entry", "To pay at the desk: €15.00",
            "Credits left after this: 0"]  # fmt: skip
        assert "Keller" not in json.dumps(held)  # the masked name only

        venue.scan("MEMBER-1")
        member = await _next(ws, "session", step="opened")  # the card's session is replaced, its hold released
        assert member["flow"] == "membership" and member["text"] == "Please show your membership card at the entrance"
        assert "Free entry" in member["facts"] and "10% off" in member["facts"]
        assert member["uses"] == []

        venue.scan("RES-1")
        reservation = await _next(ws, "session", step="opened")
        assert reservation["flow"] == "reservation"
        assert reservation["text"] == "Reservation not paid — please see the desk"
        items, unpaid, deadline = reservation["facts"]
        assert items.startswith("2 persons · Hamlet, ") and unpaid == "Not paid yet"
        assert deadline.startswith("Confirm and pay by ")
        # A language picked by touch re-words the session, and goes when the session is wiped.
        await ws.send_json({"type": "language", "language": "de"})
        assert (await _next(ws, "status"))["words"]["more_time"] == "Mehr Zeit"
        german = await _next(ws, "session", session=reservation["session"])
        assert german["facts"][1] == "Noch nicht bezahlt"
        await ws.send_json({"type": "cancel", "session": reservation["session"]})
        await _next(ws, "wipe", why="cancelled")
        assert (await _next(ws, "status"))["language"] == "en"


def test_the_typed_codes_limit_is_per_kiosk_lane_and_frees_after_a_minute() -> None:
    k1, k2 = deque[float](), deque[float]()  # a display's counts, one per kiosk lane (Context.typed)
    assert [typed_wait(k1, 2, t) for t in (0.0, 1.0)] == [0.0, 0.0]
    assert typed_wait(k1, 2, 30.0) == 30.0
    assert typed_wait(k2, 2, 30.0) == 0.0
    assert typed_wait(k1, 2, 60.0) == 0.0


def test_page_messages_are_allow_listed() -> None:
    ok = INBOUND.validate_python({"type": "choose", "session": "ab12", "items": ["entry"]})
    assert ok.items == ["entry"]  # type: ignore[union-attr]
    for bad in (
        {"type": "choose", "session": "AB;12"},
        {"type": "typed", "code": "x" * 65},
        {"type": "typed", "code": "with space"},
        {"type": "confirm", "session": "ab", "extra": 1},
        {"type": "language", "language": "it"},
    ):
        try:
            INBOUND.validate_python(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted: {bad}")


def test_the_qr_drawn_for_a_voucher_reads_back_with_gates_decoder() -> None:
    uri = qr_data_uri("GIFT-1")
    assert uri.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert view is not None  # it scales to the size the page gives it
    # Drawn from the SVG's own rectangles (x y, width, height), 8 px a module, then decoded.
    width, height = int(view.group(1)), int(view.group(2))
    image = np.full((height * 8, width * 8), 255, np.uint8)
    for x, y, w, h in re.findall(r"M(\d+) (\d+)h(\d+)v(\d+)", svg):
        x0, y0 = int(x) * 8, int(y) * 8
        cv2.rectangle(image, (x0, y0), (x0 + int(w) * 8 - 1, y0 + int(h) * 8 - 1), 0, -1)
    assert [d.text for d in decode(image)] == ["GIFT-1"]


def test_a_kiosk_cut_off_from_the_site_explains_why_it_sends_a_voucher_to_the_desk(
    venue: Venue, start_daemon: Start
) -> None:
    daemon, url = serve_kiosk(venue, start_daemon)
    # What `gate sync` writes when its link drops; the daemon reads it and applies the offline policy.
    with Ledger.open(venue.ledger) as ledger:
        ledger.touch(settings={"sync.link": "down", "sync.since": dt.datetime.now(dt.UTC).isoformat(),
                               "sync.outbox": "0"})  # fmt: skip
    until(lambda: (venue.ask({"op": "status"})["status"].get("sync") or {}).get("link") == "down", timeout=10,
          what="the daemon reads the sync state")  # fmt: skip
    asyncio.run(_offline_session(venue, url))
    assert daemon.stop() == 0


async def _offline_session(venue: Venue, url: str) -> None:
    async with aiohttp.ClientSession() as client, client.ws_connect(_ws_url(url, "de"), origin=url.rstrip("/")) as ws:
        await _next(ws, "wipe")
        venue.scan("GIFT-1")
        session = await _next(ws, "session", step="opened")
        assert session["text"].startswith("Dieses Terminal hat die Verbindung zum System des Hauses verloren")
        assert "Kasse" in session["text"] and "Durchgang" not in session["text"]  # a kiosk, not a lane
