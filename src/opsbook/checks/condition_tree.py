"""The parsed form of a condition: fields, tests and how observed values compare.

Built by the parser in :mod:`opsbook.checks.conditions`; kept apart so the semantics of
``==``, ``<`` and ``contains`` over JSON-like values read in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# A field that is not there: distinct from null, which is a value.
MISSING: Final = object()

# The tree. Each node evaluates to (ok, {path text: observed value}).
Values = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Path:
    text: str
    parts: tuple[str | int, ...]

    def resolve(self, values: Values) -> Any:
        node: Any = values
        for part in self.parts:
            if isinstance(part, int):
                if not isinstance(node, Sequence) or isinstance(node, str | bytes):
                    return MISSING
                if not -len(node) <= part < len(node):
                    return MISSING
                node = node[part]
            elif isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return MISSING
        return node


@dataclass(frozen=True, slots=True)
class Test:
    path: Path
    check: Callable[[Any], bool]
    # Values compared against a duration literal are seconds: render them "2.31s".
    seconds: bool = False

    def evaluate(self, values: Values) -> tuple[bool, dict[str, Any]]:
        observed = self.path.resolve(values)
        try:
            ok = self.check(observed)
        except (TypeError, ValueError):
            ok = False
        return ok, {self.path.text: (observed, self.seconds)}


@dataclass(frozen=True, slots=True)
class Not:
    inner: Node

    def evaluate(self, values: Values) -> tuple[bool, dict[str, Any]]:
        ok, seen = self.inner.evaluate(values)
        return not ok, seen


@dataclass(frozen=True, slots=True)
class Both:
    left: Node
    right: Node
    any_of: bool  # True: or, False: and

    def evaluate(self, values: Values) -> tuple[bool, dict[str, Any]]:
        left_ok, seen = self.left.evaluate(values)
        right_ok, right_seen = self.right.evaluate(values)
        ok = (left_ok or right_ok) if self.any_of else (left_ok and right_ok)
        return ok, {**seen, **right_seen}


Node = Test | Not | Both


def as_number(value: Any) -> float | None:
    # Headers, stdout and TCP banners are text: "42\n" compares as the number it spells.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def equal(observed: Any, expected: Any) -> bool:
    if observed is MISSING:
        return False
    if isinstance(expected, int | float) and not isinstance(expected, bool):
        number = as_number(observed)
        return number is not None and number == expected
    if isinstance(expected, bool) or expected is None:
        return observed is expected
    return bool(observed == expected)


def ordered(op: str, observed: Any, expected: Any) -> bool:
    if isinstance(expected, str):
        if not isinstance(observed, str):
            return False
        left: Any = observed
    else:
        left = as_number(observed)
        if left is None:
            return False
    if op == "<":
        return bool(left < expected)
    if op == "<=":
        return bool(left <= expected)
    if op == ">":
        return bool(left > expected)
    return bool(left >= expected)


def contains(observed: Any, expected: Any) -> bool:
    if isinstance(observed, str):
        return isinstance(expected, str) and expected in observed
    if isinstance(observed, Mapping):
        return expected in observed
    if isinstance(observed, Sequence) and not isinstance(observed, bytes):
        return any(equal(item, expected) for item in observed)
    return False
