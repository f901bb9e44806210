"""What a visitor does and hears at the lane's screen, in Debian's Chromium against a real `gate run`:
the language switch, a holder's own language, what a result says it admitted and what remains,
the sounds, and "Call staff" (journaled, the amber lamp, answered on the screen)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from gate.cli import main
from gate.daemon.control import request as send
from tests.browser import artifact_path
from tests.daemon.conftest import Start, Venue
from tests.display.consoles import badge, import_staff
from tests.display.screens import serve_screens

AMBER = 12


def _import(venue: Venue, *records: dict[str, object]) -> None:
    lines = venue.dir / "more.jsonl"
    header = {"type": "header", "format": "gate-ledger", "version": 1}
    lines.write_text("\n".join(json.dumps(r) for r in (header, *records)) + "\n")
    assert main(["--config", str(venue.config), "ledger", "import", str(lines)]) == 0


def _holders_with_their_languages(venue: Venue) -> None:
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    _import(
        venue,
        {"type": "holder", "id": "h-de", "version": 1, "display_name": "Jonas Becker", "language": "de-AT"},
        {"type": "entitlement", "kind": "ticket", "id": "t-de", "version": 1, "holder": "h-de",
         "day": today.isoformat(), "references": ["ZWEI"]},
        {"type": "holder", "id": "h-cm", "version": 1, "display_name": "Ana Silva", "language": "pt-BR"},
        {"type": "entitlement", "kind": "credit_membership", "id": "cm-1", "version": 1, "holder": "h-cm",
         "references": ["CREDIT"], "purchased_at": f"{today - dt.timedelta(days=3)}T10:00:00+01:00",
         "purchase_tz": "Europe/Paris", "credits": 5, "eligible_products": ["entry"],
         "expires_on": (today + dt.timedelta(days=300)).isoformat()},
    )  # fmt: skip


def test_a_touch_switches_the_language_and_the_lane_s_own_returns_at_idle(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    _holders_with_their_languages(venue)
    daemon, url = serve_screens(venue, start_daemon)
    page.goto(url)
    screen = page.locator("#screen")
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)
    expect(page.locator("#scan")).to_have_text("Scan your ticket or membership")

    page.get_by_role("button", name="Français").click()
    expect(page.locator("#scan")).to_have_text("Scannez votre billet ou votre carte de membre")
    expect(page.locator("#call")).to_have_text("Appeler le personnel")
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    # The visitor's own touch wins over the lane's language for the result they scan next.
    venue.scan("ONE")
    expect(screen).to_have_attribute("data-screen", "admit", timeout=5000)
    expect(page.locator("#word")).to_have_text("Entrez")
    expect(page.locator("#details")).to_contain_text("1 personne")
    # A touch repaints the result on screen at once, in the language touched.
    page.get_by_role("button", name="Deutsch").click()
    expect(page.locator("#word")).to_have_text("Eintreten")
    page.screenshot(path=str(artifact_path(request.node, "__switched-to-german.png")))

    assert send(venue.socket, {"op": "sim_passage"})["ok"]
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)
    # Idle again: the next visitor starts in the lane's own language.
    expect(page.locator("#scan")).to_have_text("Scan your ticket or membership")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert daemon.stop() == 0


def test_a_holder_s_own_language_what_remains_and_the_sounds(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    _holders_with_their_languages(venue)
    daemon, url = serve_screens(venue, start_daemon)
    page.goto(url)
    screen = page.locator("#screen")
    root = page.locator("html")
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)

    # Jonas prefers de-AT: the screen speaks German, so his result shows in it.
    venue.scan("ZWEI")
    expect(screen).to_have_attribute("data-screen", "admit", timeout=5000)
    expect(page.locator("#word")).to_have_text("Eintreten")
    expect(page.locator("#text")).to_contain_text("Jonas B.")
    expect(page.locator("#details")).to_contain_text("Ticket")
    assert "Becker" not in page.content()  # the masked name only
    expect(root).to_have_attribute("data-sound", "admit")
    expect(root).to_have_attribute("data-audio", "running")  # played, not merely counted
    assert send(venue.socket, {"op": "sim_passage"})["ok"]
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)

    # Ana prefers pt-BR, which the screen does not speak: the lane's own language, and what
    # remains of her credits after this entry.
    venue.scan("CREDIT")
    expect(screen).to_have_attribute("data-screen", "admit", timeout=5000)
    expect(page.locator("#word")).to_have_text("Enter")
    expect(page.locator("#result")).to_contain_text("4")
    expect(page.locator("#result")).to_contain_text("credits left")
    page.screenshot(path=str(artifact_path(request.node, "__credits-left.png")))
    assert send(venue.socket, {"op": "sim_passage"})["ok"]
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)

    venue.scan("ONE")
    expect(screen).to_have_attribute("data-screen", "admit", timeout=5000)
    assert send(venue.socket, {"op": "sim_passage"})["ok"]
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)
    sounds = int(root.get_attribute("data-sounds") or 0)
    venue.scan("ONE")  # used now: red, and two low beeps
    expect(screen).to_have_attribute("data-screen", "deny", timeout=5000)
    expect(root).to_have_attribute("data-sound", "deny")
    assert int(root.get_attribute("data-sounds") or 0) > sounds
    assert daemon.stop() == 0


def test_call_staff_is_journaled_lights_the_amber_lamp_and_the_visitor_sees_it(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    daemon, url = serve_screens(venue, start_daemon, turnstile={"lamps": {"amber": AMBER}})
    page.goto(url)
    expect(page.locator("#screen")).to_have_attribute("data-screen", "normal", timeout=5000)
    call = page.get_by_role("button", name="Call staff")
    call.click()
    expect(page.locator("#called")).to_have_text("Staff are on their way")
    expect(page.locator("#called")).to_be_visible()
    expect(call).to_be_disabled()  # one touch is enough: the button rests while staff come
    page.screenshot(path=str(artifact_path(request.node, "__staff-called.png")))
    status = daemon.wait_until(lambda s: s["lane"]["outputs"]["lamps"].get("amber") is True)
    assert status["lane"]["mode"] == "normal"  # a call changes no mode
    daemon.wait_until(lambda s: _journal(venue, "staff.called") == 1)
    assert daemon.stop() == 0
    with sqlite3.connect(venue.ledger) as db:
        (body,) = db.execute("SELECT body FROM journal WHERE type = 'staff.called'").fetchone()
    assert json.loads(body)["via"].startswith("visitor-screen-")


def _journal(venue: Venue, kind: str) -> int:
    with sqlite3.connect(venue.ledger) as db:
        (count,) = db.execute("SELECT count(*) FROM journal WHERE type = ?", (kind,)).fetchone()
    return int(count)


def test_a_staff_badge_at_the_lane_turns_its_screen_into_the_console_and_logout_brings_it_back(
    venue: Venue, start_daemon: Start, page: Page, request: pytest.FixtureRequest
) -> None:
    import_staff(venue)
    daemon, url = serve_screens(venue, start_daemon)
    page.goto(url)
    expect(page.locator("#screen")).to_have_attribute("data-screen", "normal", timeout=5000)
    venue.scan(badge())  # the supervisor's badge at the lane's own reader
    page.wait_for_url("**/console?**", timeout=5000)
    expect(page.locator("#screen")).to_have_attribute("data-screen", "console", timeout=5000)
    page.screenshot(path=str(artifact_path(request.node, "__console.png")))
    page.locator("#logout").click()
    # The session over, the lane's screen is the visitor's again: no staff login left up.
    page.wait_for_url(url + "**", timeout=5000)
    expect(page.locator("#screen")).to_have_attribute("data-screen", "normal", timeout=5000)

    # With no badge: "Staff" opens the console's PIN login on the same screen, and the way back
    # leads only to the display's own screens.
    page.get_by_role("button", name="Staff", exact=True).click()
    page.wait_for_url("**/console?**", timeout=5000)
    expect(page.locator("#screen")).to_have_attribute("data-screen", "login", timeout=5000)
    expect(page.locator("html")).to_have_attribute("data-back", "/")
    page.goto(url + "console?back=https://example.org/")
    expect(page.locator("#screen")).to_have_attribute("data-screen", "login", timeout=5000)
    assert page.locator("html").get_attribute("data-back") is None
    assert daemon.stop() == 0
