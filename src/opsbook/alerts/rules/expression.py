"""A rule's expression as opsbook.yaml holds it: parsed once, at config load.

    Expression.parse('sum(rate(http_requests_total{code=~"5.."}[5m])) > 1')

A mistake is a ``ValueError`` whose message names the column, which the config loader
turns into a ``file:line:col`` error at the ``expr`` value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from opsbook.alerts.rules.ast import (
    COMPARISONS,
    Binary,
    CheckFunction,
    Node,
    OverTime,
    walk,
)
from opsbook.alerts.rules.parser import parse
from opsbook.alerts.rules.tokens import ExpressionError

__all__ = ["Expression", "ExpressionError", "RuleExpressionText"]


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed rule expression; ``str(expression)`` is its text."""

    text: str
    tree: Node = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse a rule's ``expr``: it must compare, so that it says when to alert."""
        stripped = text.strip()
        try:
            tree = parse(stripped)
            if not (isinstance(tree, Binary) and tree.op in COMPARISONS):
                raise ExpressionError(
                    "a rule's expression must end in a comparison that says when to alert,"
                    " like ... > 5%"
                )
            if tree.type == "scalar":
                raise ExpressionError("the comparison needs series on one side, not two numbers")
        except ExpressionError as exc:
            raise ValueError(f"invalid expression {_show(stripped)}: {exc}") from None
        return cls(stripped, tree)

    def check_names(self) -> list[str]:
        """Checks named with ``"name"`` or ``check="name"``, which must exist."""
        return [
            name
            for node in walk(self.tree)
            if isinstance(node, CheckFunction)
            for name in node.checks.names()
        ]

    def quantile_windows(self) -> list[timedelta]:
        """Windows of ``quantile(φ, x[w])``: raw samples only, so within ``keep_raw``."""
        return [
            node.window
            for node in walk(self.tree)
            if isinstance(node, OverTime) and node.function == "quantile"
        ]

    def __str__(self) -> str:
        return self.text


def _show(text: str) -> str:
    return f"'{text}'" if '"' in text and "'" not in text else json.dumps(text)


def _validate(value: object) -> Expression:
    if isinstance(value, Expression):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"expected an expression like 'error_ratio(\"api\", 5m) > 5%', got {value!r}"
        )
    return Expression.parse(value)


RuleExpressionText = Annotated[
    Expression,
    PlainValidator(_validate, json_schema_input_type=str),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "examples": ['error_ratio("api", 5m) > 5%', "disk_used_ratio > 80%"]}
    ),
]
