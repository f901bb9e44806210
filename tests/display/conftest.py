"""The browser fixtures (tests/browser.py) for the screens' tests: only tests under tests/display/
ever start Chromium."""

from __future__ import annotations

from tests.browser import _browser_session, browser, page

__all__ = ["_browser_session", "browser", "page"]
