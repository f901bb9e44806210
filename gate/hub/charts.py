"""Bar charts as inline SVG, drawn here: no script, no library, no font or file to fetch, so a
report page reads the same offline, printed or mailed.

A chart is categories along the x axis (hours, performances, members), one bar per figure, bars
of several series side by side in a category. Each bar is a `<rect class="bar">` carrying its
figure (`data-value`) and a `<title>` saying it in words; the chart as a whole is an image
(`role="img"`) with a name and a description, and the page puts the same figures in a table
below it, for screen readers and for anyone who wants the numbers.

Colours: each series' fill has at least 3:1 contrast against the white background (WCAG 2.1,
1.4.11 non-text contrast), text at least 4.5:1 (1.4.3); a series is also told by its legend and
its bars' titles, never by colour alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

BACKGROUND = "#ffffff"
INK = "#1a1a1a"  # text: 17:1 on white
GRID = "#767676"  # axis and grid lines: 4.5:1
# Fills in the order series take them: each 3:1 or more on white, and apart from its neighbours.
PALETTE = ("#1f5f99", "#b35900", "#2e7d32", "#7b3f9e", "#a12b2b", "#00707a", "#5c5c5c", "#8a6d00")

PLOT_H = 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 92
MAX_LABELS = 36  # more categories than this: every n-th labelled (the table has them all)


@dataclass(frozen=True, slots=True)
class Bar:
    category: int  # index into the chart's categories
    series: int  # index into its series
    value: int
    title: str  # the bar in words: "14:00, zone main: 2 entries"


@dataclass(frozen=True, slots=True)
class Chart:
    key: str  # unique in the page: ids of the title and description
    title: str
    desc: str  # what the chart shows, for screen readers (its figures are in the table below)
    axis: str  # what the categories are: "hour", "performance"
    categories: list[str]
    series: list[str]
    bars: list[Bar]
    empty: str = "nothing in this period"


def colour(series: int) -> str:
    return PALETTE[series % len(PALETTE)]


def ticks(top: int) -> list[int]:
    """Whole-number y ticks from 0 to at least `top`, in steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return [0, 1]
    raw = top / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return [i * step for i in range(math.ceil(top / step) + 1)]


def svg(chart: Chart) -> str:
    """The chart as one `<svg>` element, to be put in the page as it is."""
    n = max(1, len(chart.categories))
    per = max(1, len(chart.series))
    slot = max(12.0, min(64.0, 8.0 + 14.0 * per), 640.0 / n)  # a category's width
    width = LEFT + RIGHT + slot * n
    height = TOP + PLOT_H + BOTTOM
    scale = ticks(max((b.value for b in chart.bars), default=0))
    top = scale[-1]
    key = escape(chart.key, quote=True)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:.0f} {height}" '
        f'role="img" aria-label="{escape(chart.title, quote=True)}" aria-describedby="{key}-desc" '
        f'data-chart="{key}">',
        f'<title id="{key}-title">{escape(chart.title)}</title>',
        f'<desc id="{key}-desc">{escape(chart.desc)}</desc>',
        f'<rect x="0" y="0" width="{width:.0f}" height="{height}" fill="{BACKGROUND}"/>',
    ]

    def y(value: float) -> float:
        return TOP + PLOT_H - PLOT_H * value / top

    for tick in scale:  # the grid and the y axis's figures
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT:.1f}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                   f'stroke="{GRID}" stroke-width="{1 if tick == 0 else 0.5}"/>')  # fmt: skip
        out.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="12" '
                   f'fill="{INK}">{tick}</text>')  # fmt: skip
    every = math.ceil(n / MAX_LABELS)
    for i, name in enumerate(chart.categories):
        if i % every:
            continue
        x, base = LEFT + slot * (i + 0.5), TOP + PLOT_H + 14
        out.append(f'<text x="{x:.1f}" y="{base}" transform="rotate(-40 {x:.1f} {base})" text-anchor="end" '
                   f'font-size="12" fill="{INK}">{escape(name)}</text>')  # fmt: skip
    bar_w = max(2.0, min(40.0, (slot - 8.0) / per))
    for bar in chart.bars:
        x = LEFT + slot * bar.category + (slot - bar_w * per) / 2 + bar_w * bar.series
        top_y = y(max(0, bar.value))  # a negative figure (credits overdrawn offline) is in the table
        out.append(
            f'<rect class="bar" data-series="{escape(chart.series[bar.series], quote=True)}" '
            f'data-value="{bar.value}" x="{x:.1f}" y="{top_y:.1f}" width="{bar_w - 1:.1f}" '
            f'height="{TOP + PLOT_H - top_y:.1f}" fill="{colour(bar.series)}"><title>{escape(bar.title)}</title></rect>'
        )
    if not chart.bars:
        out.append(f'<text x="{width / 2:.1f}" y="{TOP + PLOT_H / 2:.1f}" text-anchor="middle" font-size="14" '
                   f'fill="{INK}">{escape(chart.empty)}</text>')  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


def legend(chart: Chart) -> str:
    """The series' names beside their colours, as HTML (none for a single series)."""
    if len(chart.series) < 2:
        return ""
    items = "".join(
        f'<li><span class="swatch" style="background:{colour(i)}"></span>{escape(name)}</li>'
        for i, name in enumerate(chart.series)
    )
    return f'<ul class="legend" aria-label="Legend">{items}</ul>'


def luminance(hex_colour: str) -> float:
    """Relative luminance (WCAG 2.1) of `#rrggbb`."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
