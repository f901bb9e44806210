"""The browser fixtures (tests/browser.py) for the screens' tests: only tests under tests/display/
ever start Chromium; and the daemon tests' venue and `gate run` processes."""

from __future__ import annotations

from tests.browser import _browser_session, browser, page
from tests.daemon.conftest import start_daemon, venue

__all__ = ["_browser_session", "browser", "page", "start_daemon", "venue"]
