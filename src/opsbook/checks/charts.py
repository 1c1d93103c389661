"""Server-side SVG plots of check latency: a sparkline and a p50/p95 line chart.

Plain SVG strings, escaped, each with a ``<title>`` (and a ``<desc>`` for the chart) so
screen readers get the gist; no JavaScript and nothing to vendor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from sqlalchemy.orm import Session

from opsbook.checks import service

SPARK_WINDOW, SPARK_BUCKET = timedelta(hours=2), timedelta(minutes=5)


def _scale(values: Sequence[float | None], height: float, pad: float) -> tuple[float, float]:
    known = [v for v in values if v is not None]
    top = max(known, default=1.0) or 1.0
    return top * 1.1, (height - 2 * pad) / (top * 1.1)


def _path(
    values: Sequence[float | None],
    width: float,
    height: float,
    pad: float,
    top: float,
    *,
    bridge: bool = False,
) -> str:
    """An SVG path through the known points; a gap (None) starts a new segment unless
    ``bridge`` (a sparkline reads better as one line)."""
    step = (width - 2 * pad) / max(1, len(values) - 1)
    scale = (height - 2 * pad) / top
    parts, pen_down = [], False
    for index, value in enumerate(values):
        if value is None:
            pen_down = pen_down and bridge
            continue
        x, y = pad + index * step, height - pad - value * scale
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
        pen_down = True
    return " ".join(parts)


def sparkline(
    label: str, values: Sequence[float | None], *, width: int = 120, height: int = 24
) -> str:
    """A tiny latency line, newest at the right; ``values`` in milliseconds."""
    known = [v for v in values if v is not None]
    summary = (
        f"{label}: latency {min(known):.0f} to {max(known):.0f} ms, last {known[-1]:.0f} ms"
        if known
        else f"{label}: no latency data"
    )
    top, _ = _scale(values, height, 2)
    path = _path(values, width, height, 2, top, bridge=True)
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(summary)}"><title>{escape(summary)}</title>'
        f'<path d="{path}" fill="none" stroke="currentColor" stroke-width="1.5"/></svg>'
    )


def latency_chart(
    label: str,
    times: Sequence[datetime],
    p50: Sequence[float | None],
    p95: Sequence[float | None],
    *,
    width: int = 720,
    height: int = 220,
) -> str:
    """p50 and p95 latency over ``times`` (one value each per bucket), with axes and a key."""
    pad, left = 24, 56
    inner_w = width - left - pad
    known = [v for v in [*p50, *p95] if v is not None]
    top = (max(known, default=1.0) or 1.0) * 1.1
    desc = (
        f"p50 from {min(v for v in p50 if v is not None):.0f} to "
        f"{max(v for v in p50 if v is not None):.0f} ms; p95 up to "
        f"{max(v for v in p95 if v is not None):.0f} ms"
        if any(v is not None for v in p50) and any(v is not None for v in p95)
        else "no latency data in this window"
    )
    grid = []
    for step in range(5):
        value = top * step / 4
        y = height - pad - (height - 2 * pad) * step / 4
        grid.append(
            f'<line x1="{left}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.0f}</text>'
        )
    ticks = []
    if times:
        for index in sorted({0, len(times) // 2, len(times) - 1}):
            x = left + inner_w * index / max(1, len(times) - 1)
            ticks.append(
                f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">'
                f"{times[index].strftime('%H:%M')}</text>"
            )

    def line(values: Sequence[float | None], colour: str) -> str:
        d = _path(values, inner_w + 2 * 0, height, pad, top)
        return (
            f'<path transform="translate({left - 0},0)" d="{d}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )

    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="chart-t chart-d" font-size="11" font-family="system-ui,sans-serif">'
        f'<title id="chart-t">{escape(label)}: latency p50 and p95 (ms)</title>'
        f'<desc id="chart-d">{escape(desc)}</desc>{"".join(grid)}{"".join(ticks)}'
        f"{line(p95, '#bc4c00')}{line(p50, '#0969da')}"
        f'<g transform="translate({left + 8},{pad - 8})"><rect width="10" height="3" y="-3" '
        f'fill="#0969da"/><text x="14">p50</text><rect x="50" width="10" height="3" y="-3" '
        f'fill="#bc4c00"/><text x="64">p95</text></g></svg>'
    )


def recent_latency(session: Session, *, check: str, now: datetime) -> str:
    """A sparkline of the last two hours of p50 latency, in five-minute steps."""
    # The window ends after the current minute, so the latest result is in it.
    end = now + timedelta(minutes=1)
    points = service.latency_series(
        session, check=check, start=end - SPARK_WINDOW, end=end, bucket=SPARK_BUCKET
    )
    return sparkline(check, [p.p50_ms for p in points])
