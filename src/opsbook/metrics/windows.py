"""What a window of samples adds up to: the maths of rate, increase, avg, max, quantile...

Pure functions over ``(ms, value)`` lists and over :class:`Summary` values, so raw
samples and 5-minute rollups answer through one code path::

    summarize(samples)                        # one window of raw samples
    combine([bucket1, bucket2, raw_tail])     # rollups, then the raw part not yet rolled up
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[int, float]  # (Unix ms, value)


@dataclass(frozen=True, slots=True)
class Summary:
    """A stretch of one series, oldest sample first; ``increase`` is reset-adjusted."""

    count: int
    sum: float
    min: float
    max: float
    first: float
    last: float
    first_ms: int
    last_ms: int
    increase: float


def step(previous: float, current: float) -> float:
    """How much a counter went up from ``previous`` to ``current`` (a drop is a reset)."""
    return current - previous if current >= previous else current


def summarize(points: Sequence[Point]) -> Summary | None:
    if not points:
        return None
    values = [v for _, v in points]
    increase = 0.0
    for (_, before), (_, after) in itertools.pairwise(points):
        increase += step(before, after)
    return Summary(
        count=len(points),
        sum=math.fsum(values),
        min=min(values),
        max=max(values),
        first=values[0],
        last=values[-1],
        first_ms=points[0][0],
        last_ms=points[-1][0],
        increase=increase,
    )


def combine(parts: Sequence[Summary]) -> Summary | None:
    """Join consecutive summaries; the step between neighbours is counted once."""
    if not parts:
        return None
    increase = parts[0].increase
    for before, after in itertools.pairwise(parts):
        increase += step(before.last, after.first) + after.increase
    return Summary(
        count=sum(p.count for p in parts),
        sum=math.fsum(p.sum for p in parts),
        min=min(p.min for p in parts),
        max=max(p.max for p in parts),
        first=parts[0].first,
        last=parts[-1].last,
        first_ms=parts[0].first_ms,
        last_ms=parts[-1].last_ms,
        increase=increase,
    )


def extrapolated_increase(summary: Summary, *, start_ms: int, end_ms: int) -> float | None:
    """Prometheus's ``increase``: the observed increase stretched to the window's edges.

    As in PromQL, the observed increase is extrapolated to the start and the end of
    the window when the first and last samples are within 1.1 average sample
    intervals of them (half an interval otherwise), and not below zero at the start.
    Needs two samples; None otherwise.
    """
    if summary.count < 2 or summary.last_ms == summary.first_ms:
        return None
    sampled = (summary.last_ms - summary.first_ms) / 1000
    average = sampled / (summary.count - 1)
    to_start = (summary.first_ms - start_ms) / 1000
    to_end = (end_ms - summary.last_ms) / 1000
    result = summary.increase
    if result > 0 and summary.first >= 0:
        to_zero = sampled * (summary.first / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    return result * (interval / sampled)


def quantile(phi: float, values: Sequence[float]) -> float | None:
    """PromQL's ``quantile``: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    if phi <= 0:
        return ordered[0]
    if phi >= 1:
        return ordered[-1]
    rank = phi * (len(ordered) - 1)
    lower = math.floor(rank)
    upper = min(lower + 1, len(ordered) - 1)
    weight = rank - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def over_time(
    function: str,
    summary: Summary,
    *,
    start_ms: int,
    end_ms: int,
    raw: Sequence[Point] | None,
    phi: float | None = None,
) -> float | None:
    """The value of ``function(x[window])`` for one series; None when it has none.

    ``raw`` are the samples themselves when the whole window is raw: ``rate`` and
    ``increase`` then extrapolate as Prometheus does; over rollups they do not (on a
    window of hours the edges are a rounding error).
    """
    window_s = (end_ms - start_ms) / 1000
    if function in ("rate", "increase"):
        if raw is not None:
            increase = extrapolated_increase(summary, start_ms=start_ms, end_ms=end_ms)
        else:
            increase = summary.increase if summary.count >= 2 else None
        if increase is None:
            return None
        return increase / window_s if function == "rate" else increase
    if function == "avg":
        return summary.sum / summary.count
    if function == "sum":
        return summary.sum
    if function == "max":
        return summary.max
    if function == "min":
        return summary.min
    if function == "count":
        return float(summary.count)
    if function == "last":
        return summary.last
    if function == "quantile":
        assert phi is not None
        return quantile(phi, [v for _, v in raw or ()])
    raise ValueError(f"unknown function {function!r}")
