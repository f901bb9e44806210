"""scripts/check-chromium, which scripts/setup --dev runs: Debian's Chromium against the Chromium
of the installed Playwright release. The same major runs silently; Debian one or two majors ahead
runs with a warning naming both; further apart, or Debian behind, fails naming both and the
Playwright release to pin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "scripts" / "check-chromium"
PLAYWRIGHT_CHROMIUM = "156.0.8078.4"


@pytest.fixture
def browsers_json(tmp_path: Path) -> Path:
    """A Playwright driver's browsers.json (Chromium 156) and the package.json beside it (1.64)."""
    path = tmp_path / "browsers.json"
    browsers = [
        {"name": "chromium", "revision": "1248", "browserVersion": PLAYWRIGHT_CHROMIUM},
        {"name": "firefox", "revision": "1555", "browserVersion": "157.0"},
    ]
    path.write_text(json.dumps({"browsers": browsers}))
    (tmp_path / "package.json").write_text(json.dumps({"name": "playwright-core", "version": "1.64.0-beta-1"}))
    return path


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("debian", ["156.0.8078.114", "156", "Chromium 156.0.8078.114 built on Debian GNU/Linux 12"])
def test_the_same_major_passes_silently(browsers_json: Path, debian: str) -> None:
    result = check("--chromium", debian, "--browsers-json", str(browsers_json))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(("debian", "ahead"), [("157.0.8100.1", 1), ("158.0.8200.7", 2)])
def test_debian_one_or_two_majors_ahead_passes_with_a_warning_naming_both(
    browsers_json: Path, debian: str, ahead: int
) -> None:
    result = check("--chromium", debian, "--browsers-json", str(browsers_json))
    assert result.returncode == 0
    assert "warning" in result.stderr
    assert f"Debian's Chromium {156 + ahead} ({debian})" in result.stderr
    assert f"Playwright 1.64's Chromium 156 ({PLAYWRIGHT_CHROMIUM})" in result.stderr
    assert f"{ahead} major" in result.stderr


@pytest.mark.parametrize(("debian", "major"), [("159.0.8300.2", 159), ("170.0.1.1", 170)])
def test_debian_three_or_more_ahead_fails_naming_both_and_the_release_to_pin(
    browsers_json: Path, debian: str, major: int
) -> None:
    result = check("--chromium", debian, "--browsers-json", str(browsers_json))
    assert result.returncode == 1
    assert f"Debian's Chromium {major} ({debian})" in result.stderr
    assert f"Playwright 1.64's Chromium 156 ({PLAYWRIGHT_CHROMIUM})" in result.stderr
    assert f"the Playwright release whose browsers.json lists Chromium {major}" in result.stderr


@pytest.mark.parametrize(("debian", "major"), [("155.0.7900.1", 155), ("150.0.7871.100", 150)])
def test_debian_behind_fails_naming_both(browsers_json: Path, debian: str, major: int) -> None:
    result = check("--chromium", debian, "--browsers-json", str(browsers_json))
    assert result.returncode == 1
    assert f"Debian's Chromium {major} ({debian})" in result.stderr
    assert "behind" in result.stderr
    assert f"Chromium 156 ({PLAYWRIGHT_CHROMIUM})" in result.stderr
    assert f"the Playwright release whose browsers.json lists Chromium {major}" in result.stderr


def test_a_missing_chromium_fails_saying_so(browsers_json: Path, tmp_path: Path) -> None:
    result = check("--chromium-bin", str(tmp_path / "no-chromium"), "--browsers-json", str(browsers_json))
    assert result.returncode == 2
    assert "no-chromium is missing" in result.stderr
    assert "chromium package" in result.stderr


@pytest.mark.parametrize("debian", ["Chromium", "156.x", ""])
def test_an_unreadable_version_fails(browsers_json: Path, debian: str) -> None:
    result = check("--chromium", debian, "--browsers-json", str(browsers_json))
    assert result.returncode == 2
    assert "no Chromium version" in result.stderr


def test_this_machines_chromium_suits_the_installed_playwright() -> None:
    """The real parts: /usr/bin/chromium --version against the installed Playwright's browsers.json."""
    result = check()
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" or "warning" in result.stderr
