"""Mergeable latency percentiles: a sparse histogram with log-spaced buckets.

A rollup cannot keep every latency, and percentiles of percentiles are wrong, so each
rollup keeps bucket counts instead: bucket ``i`` holds latencies in
``(GAMMA**(i-1), GAMMA**i]`` milliseconds.  Histograms merge by adding counts, so a
minute row, a day row and any sum of them give percentiles with the same bound.

Error bound: the reported percentile is within ``RELATIVE_ERROR`` (5%) of the true
nearest-rank percentile of the same samples (the bucket's representative value
``2 * GAMMA**i / (GAMMA + 1)`` is that close to anything in the bucket).  Latencies
below ``MIN_MS`` are counted as ``MIN_MS``.  A day of steady 60 s checks fills about
20 buckets, so the JSON stays around 200 bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RELATIVE_ERROR = 0.05
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
MIN_MS = 0.01
_LOG_GAMMA = math.log(GAMMA)

Histogram = dict[str, int]  # JSON object keys are strings: {"bucket index": count}


def bucket_of(latency_ms: float) -> int:
    value = max(latency_ms, MIN_MS)
    index = math.ceil(math.log(value) / _LOG_GAMMA)
    # Guard float rounding at bucket edges so the (lower, upper] definition holds exactly.
    if GAMMA ** (index - 1) >= value:
        index -= 1
    elif GAMMA**index < value:
        index += 1
    return index


def representative(index: int) -> float:
    return 2 * GAMMA**index / (GAMMA + 1)


def add(histogram: Histogram, latencies_ms: Iterable[float]) -> Histogram:
    """A new histogram: ``histogram`` plus ``latencies_ms``."""
    merged = dict(histogram)
    for latency in latencies_ms:
        key = str(bucket_of(latency))
        merged[key] = merged.get(key, 0) + 1
    return merged


def merge(left: Mapping[str, int], right: Mapping[str, int]) -> Histogram:
    merged = dict(left)
    for key, count in right.items():
        merged[key] = merged.get(key, 0) + count
    return merged


def percentile(histogram: Mapping[str, int], percent: int) -> float | None:
    """Nearest-rank percentile (``percent`` in 1..100), or None for an empty histogram.

    >>> percentile(add({}, [10, 20, 30, 40]), 50)  # about 20, within 5%
    """
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, -(-percent * total // 100))  # ceil without floats
    seen = 0
    for index in sorted(int(key) for key in histogram):
        seen += histogram[str(index)]
        if seen >= rank:
            return representative(index)
    raise AssertionError("unreachable: rank is at most the total")  # pragma: no cover
