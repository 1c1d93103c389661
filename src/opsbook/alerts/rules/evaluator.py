"""Evaluating an expression tree at one instant, with PromQL's semantics where they apply.

The data comes from a :class:`RuleData` (the metrics store and check results in
production, see :mod:`opsbook.alerts.rules.sources`).  A rule's top comparison is
evaluated by :func:`candidates`, which keeps every series it compared and whether the
comparison held: what the state machine steps and what ``opsbook rules test`` explains.
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from opsbook.alerts.rules.ast import (
    COMPARISONS,
    Absent,
    Aggregate,
    Binary,
    CheckFunction,
    HistogramQuantile,
    Matching,
    Negate,
    Node,
    Number,
    OverTime,
    Selector,
)
from opsbook.metrics.windows import quantile

METRIC_NAME_LABEL: Final = "__name__"
_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def _divide(left: float, right: float) -> float:
    if right == 0:
        return math.nan if left == 0 else math.copysign(math.inf, left)
    return left / right


_ARITHMETIC: Final[dict[str, Callable[[float, float], float]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _divide,
}


class EvaluationError(Exception):
    """An expression that cannot be evaluated on this data (two series match one)."""


@dataclass(frozen=True, slots=True)
class Series:
    labels: Mapping[str, str]
    value: float


Vector = list[Series]


class RuleData(Protocol):
    def instant(self, selector: Selector, at: datetime) -> Vector: ...

    def over_time(self, node: OverTime, at: datetime) -> Vector: ...

    def checks(self, node: CheckFunction, at: datetime) -> Vector: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """One series the rule compared: ``value`` is the series' side, ``threshold`` the other."""

    labels: Mapping[str, str]
    value: float
    threshold: float
    holds: bool


def _without_name(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != METRIC_NAME_LABEL}


def evaluate(node: Node, data: RuleData, at: datetime) -> float | Vector:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Selector):
        return data.instant(node, at)
    if isinstance(node, OverTime):
        return [Series(_without_name(s.labels), s.value) for s in data.over_time(node, at)]
    if isinstance(node, CheckFunction):
        return data.checks(node, at)
    if isinstance(node, Absent):
        found = data.over_time(OverTime("count", node.selector, node.window), at)
        if found:
            return []
        labels = {m.label: m.value for m in node.selector.matchers if m.op == "="}
        return [Series(labels, 1.0)]
    if isinstance(node, Negate):
        inner = evaluate(node.expr, data, at)
        if isinstance(inner, float):
            return -inner
        return [Series(_without_name(s.labels), -s.value) for s in inner]
    if isinstance(node, Aggregate):
        return _aggregate(node, _vector(evaluate(node.expr, data, at)))
    if isinstance(node, HistogramQuantile):
        return _histogram_quantile(node.phi, _vector(evaluate(node.expr, data, at)))
    return _binary(node, evaluate(node.left, data, at), evaluate(node.right, data, at))


def _vector(value: float | Vector) -> Vector:
    assert not isinstance(value, float), "the parser only lets vectors here"
    return value


def _signature(labels: Mapping[str, str], matching: Matching) -> tuple[tuple[str, str], ...]:
    if matching.on:
        return tuple((k, labels.get(k, "")) for k in sorted(matching.labels))
    skip = {METRIC_NAME_LABEL, *matching.labels}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in skip))


def _result_labels(labels: Mapping[str, str], op: str, matching: Matching) -> dict[str, str]:
    result = dict(labels) if op in COMPARISONS else _without_name(labels)
    if matching.on:
        return {k: v for k, v in result.items() if k in matching.labels}
    return {k: v for k, v in result.items() if k not in matching.labels}


def pairs(
    left: Vector, right: Vector, op: str, matching: Matching
) -> list[tuple[dict[str, str], float, float]]:
    """One-to-one vector matching: (result labels, left value, right value) per pair."""
    by_signature: dict[tuple[tuple[str, str], ...], Series] = {}
    for series in right:
        key = _signature(series.labels, matching)
        if key in by_signature:
            raise EvaluationError(
                f"two series on the right of {op} have the labels {dict(key)}: add on(...) or"
                " ignoring(...), or aggregate them first"
            )
        by_signature[key] = series
    seen: set[tuple[tuple[str, str], ...]] = set()
    found = []
    for series in left:
        key = _signature(series.labels, matching)
        other = by_signature.get(key)
        if other is None:
            continue
        if key in seen:
            raise EvaluationError(
                f"two series on the left of {op} have the labels {dict(key)}: add on(...) or"
                " ignoring(...), or aggregate them first"
            )
        seen.add(key)
        found.append((_result_labels(series.labels, op, matching), series.value, other.value))
    return found


def _binary(node: Binary, left: float | Vector, right: float | Vector) -> float | Vector:
    op = node.op
    if op in COMPARISONS:
        compare = _COMPARE[op]
        if isinstance(left, float) and isinstance(right, float):
            return 1.0 if compare(left, right) else 0.0
        if isinstance(right, float):
            return [s for s in _vector(left) if compare(s.value, right)]
        if isinstance(left, float):
            return [s for s in right if compare(left, s.value)]
        return [
            Series(labels, lv)
            for labels, lv, rv in pairs(left, right, op, node.matching)
            if compare(lv, rv)
        ]
    apply = _ARITHMETIC[op]
    if isinstance(left, float) and isinstance(right, float):
        return apply(left, right)
    if isinstance(right, float):
        return [Series(_without_name(s.labels), apply(s.value, right)) for s in _vector(left)]
    if isinstance(left, float):
        return [Series(_without_name(s.labels), apply(left, s.value)) for s in right]
    return [
        Series(labels, apply(lv, rv)) for labels, lv, rv in pairs(left, right, op, node.matching)
    ]


def _group_key(labels: Mapping[str, str], node: Aggregate) -> tuple[tuple[str, str], ...]:
    if node.without:
        skip = {METRIC_NAME_LABEL, *node.labels}
        return tuple(sorted((k, v) for k, v in labels.items() if k not in skip))
    return tuple(sorted((k, labels[k]) for k in node.labels if k in labels))


def _aggregate(node: Aggregate, vector: Vector) -> Vector:
    groups: dict[tuple[tuple[str, str], ...], list[float]] = defaultdict(list)
    for series in vector:
        groups[_group_key(series.labels, node)].append(series.value)
    out: Vector = []
    for key, values in sorted(groups.items()):
        if node.function == "sum":
            value = math.fsum(values)
        elif node.function == "avg":
            value = math.fsum(values) / len(values)
        elif node.function == "max":
            value = max(values)
        elif node.function == "min":
            value = min(values)
        elif node.function == "count":
            value = float(len(values))
        else:
            assert node.phi is not None
            value = quantile(node.phi, values) or math.nan
        out.append(Series(dict(key), value))
    return out


def _histogram_quantile(phi: float, vector: Vector) -> Vector:
    """PromQL's histogram_quantile: linear interpolation inside the bucket holding the rank."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = defaultdict(list)
    for series in vector:
        if "le" not in series.labels:
            continue
        try:
            bound = float(series.labels["le"])
        except ValueError:
            continue
        key = tuple(sorted((k, v) for k, v in _without_name(series.labels).items() if k != "le"))
        groups[key].append((bound, series.value))
    out: Vector = []
    for key, buckets in sorted(groups.items()):
        buckets.sort()
        if len(buckets) < 2 or not math.isinf(buckets[-1][0]):
            continue
        # Counts must not fall with the bound (they can, a little, from rate rounding).
        counts = []
        highest = 0.0
        for _, count in buckets:
            highest = max(highest, count)
            counts.append(highest)
        total = counts[-1]
        if total == 0:
            continue
        rank = phi * total
        index = next(i for i, count in enumerate(counts) if count >= rank)
        if index == len(buckets) - 1:
            value = buckets[-2][0]
        else:
            upper = buckets[index][0]
            lower = 0.0 if index == 0 else buckets[index - 1][0]
            below = 0.0 if index == 0 else counts[index - 1]
            if index == 0 and upper <= 0:
                value = upper
            else:
                inside = counts[index] - below
                value = lower + (upper - lower) * ((rank - below) / inside if inside else 0)
        out.append(Series(dict(key), value))
    return out


def candidates(tree: Node, data: RuleData, at: datetime) -> list[Candidate]:
    """Every series a rule's top comparison looked at, and whether it held.

    ``value`` is always the series' own side: for ``0.999 > availability(...)`` it is
    the availability.  Labels lose ``__name__``, as Prometheus's alert labels do.
    """
    assert isinstance(tree, Binary)
    assert tree.op in COMPARISONS
    compare = _COMPARE[tree.op]
    left = evaluate(tree.left, data, at)
    right = evaluate(tree.right, data, at)
    found: list[Candidate] = []
    if isinstance(right, float):
        for series in _vector(left):
            found.append(
                Candidate(
                    _without_name(series.labels),
                    series.value,
                    right,
                    compare(series.value, right),
                )
            )
    elif isinstance(left, float):
        for series in right:
            found.append(
                Candidate(
                    _without_name(series.labels), series.value, left, compare(left, series.value)
                )
            )
    else:
        for labels, lv, rv in pairs(left, right, tree.op, tree.matching):
            found.append(Candidate(_without_name(labels), lv, rv, compare(lv, rv)))
    return found


def sorted_candidates(found: Sequence[Candidate]) -> list[Candidate]:
    return sorted(found, key=lambda c: sorted(c.labels.items()))
