"""`gate hub report --html FILE`: the site's reports as one page with charts, for people.

The figures are the reports' own (gate/hub/reports.py: each report's `Table`, computed once);
this module only lays them out. The page is one file: its charts are inline SVG (gate/hub/charts.py),
its style is in it, it runs no script and names nothing to fetch (its Content-Security-Policy
forbids fetching anything, should an id ever look like an address), so it reads the same
offline, from a mail or a USB stick. Ids only, as in every report: never a holder's name.

Each report is a section: its chart, the chart's figures as a table (the same numbers, one row
per category, one column per series), then the report's whole table, its totals and notes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from gate.hub.charts import Bar, Chart, legend, svg
from gate.hub.conflicts import mirror_path
from gate.hub.reports import REPORTS, Mirror, Period, Sources, Table
from gate.hub.store import HubStore

CHARTED = ("hours", "attendance", "conflicts", "members")  # the page's sections, in this order
CONTINUOUS_H = 72  # hours on a time axis, every hour shown up to this span; beyond, only those with figures


def _hours(labels: list[str], period: Period) -> list[str]:
    """Hours as the hours report labels them (local start with its offset: the hour a clock goes back
    in autumn is two), in time order: every hour from the first to the last (a gap is an hour with
    nothing), or, over a longer span, only those given."""
    if not labels:
        return []
    starts = {dt.datetime.fromisoformat(text).timestamp() for text in labels}
    first, last = min(starts), max(starts)
    if last - first < CONTINUOUS_H * 3600:
        starts.update(first + 3600 * h for h in range(int((last - first) // 3600)))
    return [_label(at, period) for at in sorted(starts)]


def _label(at: float, period: Period) -> str:
    return period.local(at).isoformat(timespec="minutes")


def _short(hours: list[str], period: Period) -> list[str]:
    """Hour labels for the axis: `14:00` in a one-day period, `03-14 14:00` over several; with the
    offset where one hour comes twice (autumn)."""
    days = period.first != period.last
    short = [h[5:16].replace("T", " ") if days else h[11:16] for h in hours]
    return [f"{s}{h[16:]}" if short.count(s) > 1 else s for s, h in zip(short, hours, strict=True)]


def hours_chart(table: Table, period: Period) -> Chart:
    slots = _hours([row["hour"] for row in table.rows], period)
    zones = sorted({str(row["zone"]) for row in table.rows})
    bars = [Bar(slots.index(row["hour"]), zones.index(str(row["zone"])), int(row["entries"]),
                f"{row['hour']}, zone {row['zone']}: {row['entries']} entries") for row in table.rows]  # fmt: skip
    return Chart("hours", "Entries per hour and zone", "Bars: persons who entered at the lanes in each hour (local "
                 "time), one bar per zone.", "hour", _short(slots, period), [f"zone {z}" for z in zones],
                 bars)  # fmt: skip


def attendance_chart(table: Table, period: Period) -> Chart:
    names = [str(row["performance"]) for row in table.rows]
    bars = []
    for i, row in enumerate(table.rows):
        for series, key in enumerate(("sold", "scanned")):
            bars.append(Bar(i, series, int(row[key]), f"{row['performance']} ({row['starts']}): {row[key]} {key}"))
    return Chart("attendance", "Scanned against sold, per performance", "Bars: for each performance starting in the "
                 "period, the places sold (tickets and kiosks' admissions) beside the persons scanned in.",
                 "performance", names, ["sold", "scanned"], bars)  # fmt: skip


def conflicts_chart(table: Table, period: Period) -> Chart:
    per_hour = Counter(_label(period.local(dt.datetime.fromisoformat(str(row["at"])).timestamp())
                              .replace(minute=0, second=0).timestamp(), period) for row in table.rows)  # fmt: skip
    slots = _hours(list(per_hour), period)
    bars = [Bar(i, 0, per_hour[hour], f"{hour}: {per_hour[hour]} double use(s)") for i, hour in enumerate(slots)
            if per_hour[hour]]  # fmt: skip
    return Chart("conflicts", "Conflicts over time", "Bars: double uses per hour of their second use (local time); "
                 "each is listed with both its uses in the whole report below.", "hour", _short(slots, period),
                 ["conflicts"], bars, empty="no conflict in this period")  # fmt: skip


def members_chart(table: Table, period: Period) -> Chart:
    names = [str(row["entitlement"]) for row in table.rows]
    keys = (("visits", "visits"), ("credits_used", "credits used"), ("credits_left", "credits left"))
    bars = [Bar(i, series, int(row[key]), f"{row['entitlement']}: {row[key]} {title}")
            for i, row in enumerate(table.rows) for series, (key, title) in enumerate(keys)
            if isinstance(row.get(key), int)]  # fmt: skip
    return Chart("members", "Member activity and balances", "Bars: for each membership used in the period, its "
                 "visits and, for a credit membership, the credits used in the period and those left.", "entitlement",
                 names, [title for _, title in keys], bars)  # fmt: skip


CHARTS: dict[str, Callable[[Table, Period], Chart]] = {"hours": hours_chart, "attendance": attendance_chart,
                                              "conflicts": conflicts_chart, "members": members_chart}  # fmt: skip


def tables(store: HubStore, store_path: Path, names: Sequence[str], period: Period) -> list[tuple[str, Table]]:
    """The reports `names`, read from one Sources (the period's events read once for all)."""
    mirror = Mirror(mirror_path(store_path))
    try:
        sources = Sources(store, mirror)
        return [(name, REPORTS[name](sources, period)) for name in names]
    finally:
        mirror.close()


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; background: #fff;
       max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem; }
.meta, .note, .total { color: #3d3d3d; }
figure { margin: 1rem 0; } svg.chart { width: 100%; height: auto; display: block; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .4rem 0; }
.swatch { display: inline-block; width: .9rem; height: .9rem; margin-right: .35rem; vertical-align: -.1rem;
          border: 1px solid #1a1a1a; }
table { border-collapse: collapse; margin: .6rem 0; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; white-space: nowrap; }
th, td { border: 1px solid #8f8f8f; padding: .2rem .5rem; text-align: left; }
thead th { background: #ececec; } td.n { text-align: right; }
details { margin: .8rem 0; } summary { cursor: pointer; font-weight: 600; }
@media print { details { display: block; } h2 { break-before: page; } }
"""


def _cell(value: Any) -> str:
    if value is None:
        return "<td>-</td>"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return f'<td class="n">{value}</td>' if number else f"<td>{escape(str(value))}</td>"


def _figures(chart: Chart) -> str:
    """The chart's figures: one row per category, one column per series ('-' where there is no bar)."""
    values = {(bar.category, bar.series): bar.value for bar in chart.bars}
    head = "".join(f'<th scope="col">{escape(name)}</th>' for name in [chart.axis, *chart.series])
    rows = []
    for i, name in enumerate(chart.categories):
        if any((i, s) in values for s in range(len(chart.series))):
            cells = "".join(_cell(values.get((i, s))) for s in range(len(chart.series)))
            rows.append(f'<tr><th scope="row">{escape(name)}</th>{cells}</tr>')
    body = "".join(rows) or f'<tr><td colspan="{len(chart.series) + 1}">{escape(chart.empty)}</td></tr>'
    return (f'<table class="figures" data-figures="{escape(chart.key, quote=True)}"><caption>{escape(chart.title)}: '
            f"the chart's figures</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")  # fmt: skip


def _table(name: str, table: Table) -> str:
    head = "".join(f'<th scope="col">{escape(title)}</th>' for _, title in table.columns)
    rows = "".join("<tr>" + "".join(_cell(row.get(key)) for key, _ in table.columns) + "</tr>" for row in table.rows)
    body = rows or f'<tr><td colspan="{len(table.columns)}">nothing in this period</td></tr>'
    return (f'<details><summary>The whole report ({len(table.rows)} row(s))</summary>'
            f'<table data-report="{escape(name, quote=True)}"><caption>{escape(table.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>")  # fmt: skip


def _section(name: str, table: Table, period: Period) -> str:
    parts = [f'<section id="{name}" aria-labelledby="{name}-h"><h2 id="{name}-h">{escape(table.title)}</h2>']
    if name in CHARTS:
        chart = CHARTS[name](table, period)
        parts += [f"<figure>{svg(chart)}{legend(chart)}</figure>", _figures(chart)]
    parts.append(_table(name, table))
    if table.totals:
        totals = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in table.totals.items())
        parts.append(f'<p class="total">Total: {escape(totals)}</p>')
    parts += [f'<p class="note">{escape(note)}</p>' for note in table.notes]
    parts.append("</section>")
    return "\n".join(parts)


def render(site: str, period: Period, reports: list[tuple[str, Table]], made: dt.datetime) -> str:
    days = period.first.isoformat() + ("" if period.last == period.first else f" to {period.last.isoformat()}")
    title = f"{site}: reports, {days}"
    sections = "\n".join(_section(name, table, period) for name, table in reports)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="meta">Site {escape(site)}, {escape(days)} ({escape(str(period.tz))}), whole days in the site's time.
Made by gate hub at {escape(made.isoformat(timespec="minutes"))} from the events the hub held then.
Ids only: entitlements, holders, devices, lanes and performances by their ids.</p>
</header>
<main>
{sections}
</main>
</body>
</html>
"""


def write(path: Path, text: str) -> None:
    """All or nothing: a page half written is never there under its name."""
    part = path.with_name(f".{path.name}.part")
    try:
        part.write_text(text, encoding="utf-8")
        part.replace(path)
    except OSError:
        part.unlink(missing_ok=True)
        raise
