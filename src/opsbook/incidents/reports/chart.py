"""Server-side SVG charts for the reports page: no JavaScript, no build step.

Two horizontal bar charts: pages per person stacked by interruption bucket, and MTTA
and MTTR per severity or service.  Every label is escaped; each chart has a title and a
description for screen readers, and the page shows the same figures as tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from html import escape
from typing import Final

from markupsafe import Markup

from opsbook.incidents.postmortems.template import span
from opsbook.incidents.reports.hours import BUCKET_LABELS, BUCKETS
from opsbook.incidents.reports.service import GroupStats, PersonPages

WIDTH: Final = 720
LABEL_WIDTH: Final = 160
ROW: Final = 30
BAR: Final = 18
TOP: Final = 40
COLOURS: Final = {
    "business_hours": "#2da44e",
    "off_hours": "#fb8f44",
    "sleep_hours": "#cf222e",
    "mtta": "#0969da",
    "mttr": "#8250df",
}


def _svg(title: str, description: str, height: int, body: list[str]) -> Markup:
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>",
        *body,
        "</svg>",
    ]
    return Markup("\n".join(parts))  # noqa: S704 - every value above is escaped or a number


def _legend(keys: Sequence[tuple[str, str]]) -> list[str]:
    out, x = [], LABEL_WIDTH
    for key, label in keys:
        out.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{x + 16}" y="19" font-size="12">{escape(label)}</text>')
        x += 24 + 7 * len(label)
    return out


def pages_chart(people: Sequence[PersonPages]) -> Markup:
    """Pages per person, each bar split into business, evening/weekend and sleep hours."""
    height = TOP + ROW * max(len(people), 1) + 10
    most = max((p.pages for p in people), default=0) or 1
    scale = (WIDTH - LABEL_WIDTH - 60) / most
    body = _legend([(b, BUCKET_LABELS[b]) for b in BUCKETS])
    for row, person in enumerate(people):
        y = TOP + row * ROW
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 13}" font-size="13" text-anchor="end">'
            f"{escape(person.person)}</text>"
        )
        x = float(LABEL_WIDTH)
        for bucket in BUCKETS:
            count: int = getattr(person, bucket)
            if not count:
                continue
            width = count * scale
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" '
                f'fill="{COLOURS[bucket]}"><title>{escape(person.person)}: {count} in '
                f"{escape(BUCKET_LABELS[bucket])}</title></rect>"
            )
            x += width
        body.append(f'<text x="{x + 6:.1f}" y="{y + 13}" font-size="12">{person.pages}</text>')
    if not people:
        body.append(f'<text x="{LABEL_WIDTH}" y="{TOP + 13}" font-size="13">no pages</text>')
    description = "; ".join(
        f"{p.person}: {p.pages} pages, "
        + ", ".join(f"{getattr(p, b)} in {BUCKET_LABELS[b]}" for b in BUCKETS)
        for p in people
    )
    return _svg("Pages per person", description or "no pages", height, body)


def _minutes(value: timedelta | None) -> float:
    return 0.0 if value is None else value.total_seconds() / 60


def durations_chart(groups: Sequence[GroupStats]) -> Markup:
    """MTTA and MTTR per group, as two bars each."""
    height = TOP + ROW * 2 * max(len(groups), 1) + 10
    longest = max((_minutes(g.mttr) for g in groups), default=0.0)
    longest = max(longest, *(_minutes(g.mtta) for g in groups), 1.0) if groups else 1.0
    scale = (WIDTH - LABEL_WIDTH - 80) / longest
    body = _legend([("mtta", "MTTA"), ("mttr", "MTTR")])
    for row, group in enumerate(groups):
        y = TOP + row * 2 * ROW
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 22}" font-size="13" text-anchor="end">'
            f"{escape(group.key)}</text>"
        )
        for offset, key, value in ((0, "mtta", group.mtta), (BAR + 4, "mttr", group.mttr)):
            width = _minutes(value) * scale
            text = "-" if value is None else span(value)
            body.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + offset}" width="{width:.1f}" height="{BAR}" '
                f'fill="{COLOURS[key]}"><title>{escape(group.key)} {key.upper()}: {text}'
                "</title></rect>"
            )
            body.append(
                f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + offset + 13}" '
                f'font-size="12">{escape(text)}</text>'
            )
    description = "; ".join(
        f"{g.key}: MTTA {span(g.mtta) if g.mtta else '-'}, MTTR {span(g.mttr) if g.mttr else '-'}"
        for g in groups
    )
    return _svg(
        "Mean time to acknowledge and to resolve", description or "no incidents", height, body
    )
