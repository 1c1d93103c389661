"""The parsed form of a rule expression: a small tree of frozen nodes.

Built by :mod:`opsbook.alerts.rules.parser` and walked by
:mod:`opsbook.alerts.rules.evaluator`.  Every node knows its result type, ``scalar``
or ``vector``, so type mistakes are caught when opsbook.yaml loads, not when a rule
first runs.  A ``range`` (a selector with ``[window]``) is only ever a function argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

ValueType = Literal["scalar", "vector"]

COMPARISONS: Final = ("==", "!=", ">=", "<=", ">", "<")
ARITHMETIC: Final = ("+", "-", "*", "/")
# Functions over a window of one metric's samples, evaluated per series.
OVER_TIME: Final = ("rate", "increase", "avg", "max", "min", "sum", "count", "last", "quantile")
# Aggregations across the series of an instant vector, grouped by labels.
AGGREGATIONS: Final = ("sum", "avg", "max", "min", "count", "quantile")
# Functions over check results: (needs a window?).
CHECK_FUNCTIONS: Final = {
    "availability": True,
    "error_ratio": True,
    "latency_p50": True,
    "latency_p95": True,
    "latency_p99": True,
    "consecutive_failures": False,
}
# The label every check series carries: its name in opsbook.yaml.
CHECK_LABEL: Final = "check"


@dataclass(frozen=True, slots=True)
class Matcher:
    """``name="value"``, ``!=``, ``=~`` or ``!~``; regexes are anchored, as in PromQL."""

    label: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: dict[str, str]) -> bool:
        given = labels.get(self.label, "")
        if self.op == "=":
            return given == self.value
        if self.op == "!=":
            return given != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(given) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    text: str

    @property
    def type(self) -> ValueType:
        return "scalar"


@dataclass(frozen=True, slots=True)
class Selector:
    """``http_requests_total{code=~"5.."}``, with ``window`` when written ``[5m]``."""

    metric: str
    matchers: tuple[Matcher, ...]
    window: timedelta | None = None

    @property
    def type(self) -> ValueType:
        return "vector"


@dataclass(frozen=True, slots=True)
class CheckSelector:
    """Which checks a check function reads: ``"api"`` or ``{team="payments"}``."""

    matchers: tuple[Matcher, ...]

    def names(self) -> list[str]:
        """The check names written with ``check="..."``, for reference checks at load."""
        return [m.value for m in self.matchers if m.label == CHECK_LABEL and m.op == "="]


@dataclass(frozen=True, slots=True)
class OverTime:
    """``rate(x[5m])``, ``max(x[10m])``, ``quantile(0.95, x[5m])``: per series, over a window."""

    function: str
    selector: Selector
    window: timedelta
    phi: float | None = None

    @property
    def type(self) -> ValueType:
        return "vector"


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``sum by (job) (expr)``: one series per group of ``by`` labels (or all but ``without``)."""

    function: str
    expr: Node
    labels: tuple[str, ...] = ()
    without: bool = False
    phi: float | None = None

    @property
    def type(self) -> ValueType:
        return "vector"


@dataclass(frozen=True, slots=True)
class CheckFunction:
    """``availability("api", 30d)``: one series per matching check, labelled ``check``."""

    function: str
    checks: CheckSelector
    window: timedelta | None

    @property
    def type(self) -> ValueType:
        return "vector"


@dataclass(frozen=True, slots=True)
class HistogramQuantile:
    """``histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))``, as in PromQL."""

    phi: float
    expr: Node

    @property
    def type(self) -> ValueType:
        return "vector"


@dataclass(frozen=True, slots=True)
class Absent:
    """``absent(x{job="api"}[10m])``: 1 when no series has a sample in the window."""

    selector: Selector
    window: timedelta

    @property
    def type(self) -> ValueType:
        return "vector"


@dataclass(frozen=True, slots=True)
class Matching:
    """How two vectors pair their series: on all labels, ``on(...)`` or ``ignoring(...)``."""

    labels: tuple[str, ...] = ()
    on: bool = False


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node
    matching: Matching = Matching()

    @property
    def type(self) -> ValueType:
        if self.left.type == "scalar" and self.right.type == "scalar":
            return "scalar"
        return "vector"


@dataclass(frozen=True, slots=True)
class Negate:
    expr: Node

    @property
    def type(self) -> ValueType:
        return self.expr.type


Node = (
    Number
    | Selector
    | OverTime
    | Aggregate
    | CheckFunction
    | HistogramQuantile
    | Absent
    | Binary
    | Negate
)


def walk(node: Node) -> list[Node]:
    """Every node of the tree, ``node`` first."""
    found: list[Node] = [node]
    if isinstance(node, Binary):
        found += walk(node.left) + walk(node.right)
    elif isinstance(node, Aggregate | HistogramQuantile | Negate):
        found += walk(node.expr)
    return found
