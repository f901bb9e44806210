"""`gate hub report --html`: the page of charts, on the store of tests/hub/test_reports.py (two devices'
real journals, a kiosk) and one conflict more, checked in Debian's Chromium: nothing fetched, every
chart drawn with one bar per figure of its report, the figures in tables, no name, and axe-core
finding nothing serious; screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page

from gate.cli import main
from gate.hub.charts import GRID, INK, PALETTE, contrast
from gate.hub.conflicts import Judge, mirror_path
from gate.hub.report_html import CHARTED, _hours, _short
from gate.hub.reports import Period
from gate.hub.store import SqliteHubStore
from gate.sync.outbox import event_of
from gate.sync.payloads import Events
from tests.browser import _browser_session, artifact_path, browser, page, serious_violations
from tests.hub.test_reports import DAY, _device, _pass, at, hub

__all__ = ["_browser_session", "browser", "hub", "page"]  # fixtures


def _json(capsys: pytest.CaptureFixture[str], config: Path, name: str) -> dict[str, Any]:
    assert main(["hub", "report", name, "--day", DAY.isoformat(), "--json", "--config", str(config)]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


@pytest.fixture
def report(hub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, dict[str, Any]]:
    """The page for the day, after a third device let T1's party in again at 14:30 (a conflict);
    and each charted report as `--json` gives it, to compare."""
    d3, three = _device(tmp_path, "d3", {"l3": {"zone": "main", "product": "entry"}})
    _pass(three, "T1", "l3", at(14, 30))
    store = SqliteHubStore(tmp_path / "hub.sqlite")
    events = Events(v=1, device="d3", incarnation=d3.outbox().incarnation(), floor=0,
                    events=[event_of(entry) for entry in d3.journal()])  # fmt: skip
    store.add(events)
    judge = Judge(store, mirror_path(tmp_path / "hub.sqlite"))
    assert len(judge.judge(events.events)) == 1
    judge.close()
    store.close()
    d3.close()
    path = tmp_path / "report.html"
    assert main(["hub", "report", "--html", str(path), "--day", DAY.isoformat(), "--config", str(hub)]) == 0
    assert capsys.readouterr().out.strip() == f"{path}: hours, attendance, conflicts, members"
    return path, {name: _json(capsys, hub, name) for name in CHARTED}


def _expected(name: str, rows: list[dict[str, Any]]) -> list[int]:
    """The figures a chart must draw, in order, straight from its report's rows."""
    if name == "hours":
        return [r["entries"] for r in rows]
    if name == "attendance":
        return [v for r in rows for v in (r["sold"], r["scanned"])]
    if name == "conflicts":
        return [len(rows)]  # both uses of the one double use within an hour here
    return [v for r in rows for v in (r["visits"], r["credits_used"], r["credits_left"]) if v is not None]


def test_the_page_draws_every_report_offline_with_its_figures_and_axe_finds_nothing_serious(
    report: tuple[Path, dict[str, Any]], page: Page, request: pytest.FixtureRequest
) -> None:
    path, figures = report
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert asked == [path.as_uri()]  # the file itself, and nothing else: no font, script, image or style
    assert page.locator("script, link, img, iframe, object, embed, [src], [href]").count() == 0  # nor asks

    for name in CHARTED:
        chart = page.locator(f'svg[data-chart="{name}"]')
        assert chart.get_attribute("role") == "img" and chart.get_attribute("aria-label")
        assert chart.locator("desc").text_content()
        bars = chart.locator("rect.bar")
        values = [int(v or -1) for v in bars.evaluate_all("els => els.map(e => e.getAttribute('data-value'))")]
        assert values == _expected(name, figures[name]["rows"]), name
        box = bars.first.bounding_box()
        assert box is not None and box["height"] > 0 and box["width"] > 0  # drawn, not only in the markup
    assert [len(figures[n]["rows"]) for n in CHARTED] == [3, 2, 1, 2]  # the fixture's day: something in each
    # The chart's figures as a table below it: entries per hour and zone, as the hours report has them.
    cells = page.locator('table[data-figures="hours"] tbody tr').evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.textContent))")  # fmt: skip
    assert cells == [["13:00", "-", "2"], ["14:00", "2", "4"]]  # zones hall, main; d3 let 2 more into main
    conflicts = page.locator('table[data-figures="conflicts"] tbody tr').text_content()
    assert conflicts == "14:001"  # d3's second use of T1 at 14:30, in the hour it happened
    assert "Anna" not in page.content() and "Keller" not in page.content()  # ids only
    page.screenshot(path=artifact_path(request.node, "__full.png"), full_page=True)

    found = serious_violations(page)
    for summary in page.locator("summary").all():  # the whole reports' tables too
        summary.click()
    assert page.locator('table[data-report="members"]').is_visible()
    assert (found, serious_violations(page)) == ([], [])


def test_colours_meet_wcag_aa_contrast_on_white() -> None:
    assert contrast(INK, "#ffffff") >= 4.5 and contrast(GRID, "#ffffff") >= 4.5  # text, axes
    assert min(contrast(fill, "#ffffff") for fill in PALETTE) >= 3.0  # bars: non-text contrast


def test_one_report_alone_an_empty_day_and_what_is_refused(
    hub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = tmp_path / "attendance.html"
    day = ["--day", DAY.isoformat(), "--config", str(hub)]
    assert main(["hub", "report", "attendance", "--html", str(one), *day]) == 0
    text = one.read_text()
    assert 'data-chart="attendance"' in text and 'data-chart="hours"' not in text
    assert text.count('class="bar"') == 4 and "<script" not in text and "http://" not in text.replace(
        "http://www.w3.org/2000/svg", "")  # fmt: skip
    days = tmp_path / "days.html"
    assert main(["hub", "report", "hours", "--html", str(days), "--from", "2026-03-13", "--to", "2026-03-14",
                 "--config", str(hub)]) == 0  # fmt: skip
    assert ">03-14 13:00</text>" in days.read_text()  # over several days, the axis says the day
    empty = tmp_path / "empty.html"
    assert main(["hub", "report", "--html", str(empty), "--day", "2026-03-01", "--config", str(hub)]) == 0
    text = empty.read_text()
    assert text.count('class="bar"') == 0 and "no conflict in this period" in text and text.count("<svg") == 4
    capsys.readouterr()
    assert main(["hub", "report", "hours", "--json", "--html", str(one), "--config", str(hub)]) == 2
    assert "--json or --html, not both" in capsys.readouterr().err
    assert main(["hub", "report", "--config", str(hub)]) == 2
    assert "which report?" in capsys.readouterr().err
    missing = tmp_path / "no-such-folder" / "r.html"
    assert main(["hub", "report", "--html", str(missing), *day]) == 2
    assert f"--html {missing}: No such file or directory" in capsys.readouterr().err
    assert not missing.parent.exists() and not list(tmp_path.glob(".*.part"))


def test_the_hour_a_clock_goes_back_is_two_places_on_the_axis() -> None:
    paris = ZoneInfo("Europe/Paris")
    period = Period(dt.date(2026, 10, 25), dt.date(2026, 10, 25), paris)
    slots = _hours(["2026-10-25T01:00+02:00", "2026-10-25T03:00+01:00"], period)
    assert slots == ["2026-10-25T01:00+02:00", "2026-10-25T02:00+02:00", "2026-10-25T02:00+01:00",
                     "2026-10-25T03:00+01:00"]  # fmt: skip
    assert _short(slots, period) == ["01:00", "02:00+02:00", "02:00+01:00", "03:00"]
