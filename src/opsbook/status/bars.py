"""Server-side SVG: the 90-day uptime bar and the status badges.

Days in a row that look alike (no downtime and no incident, or no data) share one
``<rect>`` filled with a repeating pattern, whose ``<title>`` names the span; every
other day is its own ``<rect>`` with its own ``<title>``.  So hovering any day shows
that day's uptime and incidents, and a page of 50 components stays near 30 KB.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from typing import Final

from opsbook.status.config import Colours
from opsbook.status.state import Day

DAY_WIDTH: Final = 5
BAR_WIDTH: Final = 3
HEIGHT: Final = 30
NO_DATA: Final = "#8c959f"
_IMPACT_LEVEL: Final = {"none": 0, "minor": 1, "major": 2, "critical": 3}


def contrast_text(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (WCAG relative luminance)."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(background[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is 1.05 / (L + 0.05); with black (L + 0.05) / 0.05.
    return "#ffffff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#000000"


def level(day: Day) -> int:
    """0 fine, 1 minor, 2 major, 3 critical; -1 no data."""
    uptime = day.uptime
    if uptime is None and not day.incidents:
        return -1
    by_uptime = 0
    if uptime is not None and uptime < 1:
        by_uptime = 1 if uptime >= 0.99 else 2 if uptime >= 0.95 else 3
    return max(by_uptime, _IMPACT_LEVEL.get(day.worst_impact, 0))


def _day(d: date) -> str:
    return d.strftime("%b %d")


def _describe(day: Day) -> str:
    parts = [_day(day.day) + ":"]
    if day.uptime is None:
        parts.append("no data")
    else:
        parts.append(f"{day.uptime * 100:.2f}% uptime")
        if day.down_minutes:
            parts[-1] += f", {day.down_minutes} min down"
    if day.incidents:
        label = "incident" if len(day.incidents) == 1 else "incidents"
        parts.append(f"{len(day.incidents)} {label}: " + "; ".join(day.incidents))
    else:
        parts.append("no incidents")
    return " ".join(parts[:2]) + (", " + parts[2] if len(parts) > 2 else "")


def level_colours(colours: Colours) -> tuple[str, str, str, str]:
    return (
        colours.operational,
        colours.degraded_performance,
        colours.partial_outage,
        colours.major_outage,
    )


def uptime_bar(name: str, days: Sequence[Day], uptime: float | None, colours: Colours) -> str:
    """One component's bar; the page defines the ``ok`` and ``nd`` patterns once."""
    palette = level_colours(colours)
    width = DAY_WIDTH * len(days)
    summary = "no data" if uptime is None else f"{uptime * 100:.2f}% uptime"
    parts = [
        f'<svg class="bar" viewBox="0 0 {width} {HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(name)}: {summary} over {len(days)} days">'
        f"<title>{escape(name)}: {summary} over {len(days)} days</title>"
    ]
    index = 0
    while index < len(days):
        current = level(days[index])
        if current <= 0:
            end = index
            while end + 1 < len(days) and level(days[end + 1]) == current:
                end += 1
            first, last = days[index].day, days[end].day
            span = _day(first) if first == last else f"{_day(first)} to {_day(last)}"
            text = "no data" if current < 0 else "100% uptime, no incidents"
            pattern = "nd" if current < 0 else "ok"
            parts.append(
                f'<rect x="{index * DAY_WIDTH}" width="{(end - index + 1) * DAY_WIDTH}" '
                f'height="{HEIGHT}" fill="url(#{pattern})"><title>{span}: {text}</title></rect>'
            )
            index = end + 1
            continue
        day = days[index]
        parts.append(
            f'<rect x="{index * DAY_WIDTH}" width="{BAR_WIDTH}" height="{HEIGHT}" rx="1" '
            f'fill="{palette[current]}"><title>{escape(_describe(day))}</title></rect>'
        )
        index += 1
    parts.append("</svg>")
    return "".join(parts)


def patterns(colours: Colours) -> str:
    """The shared fills of the uptime bars, defined once per page."""
    return (
        '<svg width="0" height="0" style="position:absolute" aria-hidden="true" focusable="false">'
        f'<defs><pattern id="ok" width="{DAY_WIDTH}" height="{HEIGHT}" '
        'patternUnits="userSpaceOnUse">'
        f'<rect width="{BAR_WIDTH}" height="{HEIGHT}" rx="1" fill="{colours.operational}"/>'
        f'</pattern><pattern id="nd" width="{DAY_WIDTH}" height="{HEIGHT}" '
        'patternUnits="userSpaceOnUse">'
        f'<rect width="{BAR_WIDTH}" height="{HEIGHT}" rx="1" fill="{NO_DATA}"/>'
        "</pattern></defs></svg>"
    )


def badge(label: str, value: str, colour: str) -> str:
    """A shields-style badge: ``label | value``, with a ``<title>`` for screen readers."""
    char = 6.5  # a rough average width of Verdana 11px, as badge makers use

    def width(text: str) -> int:
        return int(len(text) * char) + 12

    left, right = width(label), width(value)
    total = left + right
    text_colour = contrast_text(colour)
    title = escape(f"{label}: {value}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        f'<rect width="{left}" height="20" fill="#555555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14" fill="#ffffff" text-anchor="middle">{escape(label)}</text>'
        f'<text x="{left + right / 2}" y="14" fill="{text_colour}" '
        f'text-anchor="middle">{escape(value)}</text></g></svg>'
    )
