"""axe-core on the visitor screen's states, in the same Debian Chromium: no serious or critical
violation (contrast, names, roles, language)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from gate.daemon.control import request
from tests.browser import serious_violations
from tests.daemon.conftest import Start, Venue
from tests.display.screens import serve_screens


def test_the_visitor_screen_has_no_serious_accessibility_violation_in_any_state(
    venue: Venue, start_daemon: Start, page: Page
) -> None:
    daemon, url = serve_screens(venue, start_daemon)
    page.goto(url)
    screen = page.locator("#screen")
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)
    found = {"idle": serious_violations(page)}
    venue.scan("ONE")
    expect(screen).to_have_attribute("data-screen", "admit", timeout=5000)
    found["admit"] = serious_violations(page)
    assert request(venue.socket, {"op": "sim_passage"})["ok"]
    expect(screen).to_have_attribute("data-screen", "normal", timeout=5000)
    venue.scan("ONE")
    expect(screen).to_have_attribute("data-screen", "deny", timeout=5000)
    found["deny"] = serious_violations(page)
    assert request(venue.socket, {"op": "mode", "mode": "locked", "reason": "x"})["ok"]
    expect(screen).to_have_attribute("data-screen", "closed", timeout=8000)
    found["closed"] = serious_violations(page)
    assert found == {"idle": [], "admit": [], "deny": [], "closed": []}
    # The check sees what it should: grey on grey, put on the page here, is a serious violation.
    page.evaluate("""() => { const p = document.createElement('p'); p.textContent = 'faint';
        p.style.cssText = 'color:#777;background:#666;font-size:14px'; document.body.append(p); }""")
    assert "color-contrast" in {v["id"] for v in serious_violations(page)}
    assert daemon.stop() == 0
