"""A hand-written recursive-descent parser for rule expressions; nothing is ``eval``-ed.

The grammar (documented in docs/rules.md)::

    rule        := expr                       (its top must be a comparison)
    expr        := sum (CMP matching? sum)*
    sum         := product (("+" | "-") matching? product)*
    product     := unary (("*" | "/") matching? unary)*
    unary       := "-" unary | primary
    primary     := NUMBER | PERCENT | DURATION | "(" expr ")" | call | selector
    matching    := ("on" | "ignoring") "(" labels ")"
    selector    := METRIC ("{" matchers "}")? ("[" DURATION "]")?
    call        := FUNCTION "(" args ")" grouping?      e.g. sum by (job) (rate(x[5m]))
    grouping    := ("by" | "without") "(" labels ")"
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Final

from opsbook.alerts.rules.ast import (
    AGGREGATIONS,
    ARITHMETIC,
    CHECK_FUNCTIONS,
    CHECK_LABEL,
    COMPARISONS,
    OVER_TIME,
    Absent,
    Aggregate,
    Binary,
    CheckFunction,
    CheckSelector,
    HistogramQuantile,
    Matcher,
    Matching,
    Negate,
    Node,
    Number,
    OverTime,
    Selector,
)
from opsbook.alerts.rules.tokens import ExpressionError, Token, tokenize

_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNSUPPORTED: Final = {
    "and": "write two rules (each alerts on its own)",
    "or": "write two rules (each alerts on its own)",
    "unless": "write two rules (each alerts on its own)",
    "offset": "offset is not supported; use a Prometheus source for such queries",
    "bool": "the bool modifier is not supported: a rule's comparison filters the series",
    "group_left": "many-to-one matching is not supported; use a Prometheus source",
    "group_right": "many-to-one matching is not supported; use a Prometheus source",
}
FUNCTIONS: Final = frozenset(
    {*OVER_TIME, *AGGREGATIONS, *CHECK_FUNCTIONS, "histogram_quantile", "absent"}
)


class Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.current
        return token.kind == kind and (text is None or token.text == text)

    def fail(self, expected: str, token: Token | None = None) -> ExpressionError:
        token = token or self.current
        got = "the end" if token.kind == "end" else json.dumps(token.text)
        return ExpressionError(f"at column {token.column}: expected {expected}, got {got}")

    def expect(self, text: str, description: str | None = None) -> Token:
        if not self.at("op", text):
            raise self.fail(description or f'"{text}"')
        return self.advance()

    # -- grammar --------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.at("end"):
            raise ExpressionError("the expression is empty")
        node = self.parse_expr()
        if not self.at("end"):
            token = self.current
            if token.kind == "name" and token.text in _UNSUPPORTED:
                raise ExpressionError(
                    f"at column {token.column}: {token.text!r}: {_UNSUPPORTED[token.text]}"
                )
            raise self.fail("an operator or the end of the expression")
        return node

    def parse_expr(self) -> Node:
        node = self.parse_sum()
        while self.current.kind == "op" and self.current.text in COMPARISONS:
            op = self.advance()
            matching = self.parse_matching()
            right = self.parse_sum()
            node = self._binary(op, node, right, matching)
        if self.at("op", "="):
            raise ExpressionError(f'at column {self.current.column}: write "==" to compare')
        return node

    def parse_sum(self) -> Node:
        node = self.parse_product()
        while self.at("op", "+") or self.at("op", "-"):
            op = self.advance()
            matching = self.parse_matching()
            node = self._binary(op, node, self.parse_product(), matching)
        return node

    def parse_product(self) -> Node:
        node = self.parse_unary()
        while self.at("op", "*") or self.at("op", "/"):
            op = self.advance()
            matching = self.parse_matching()
            node = self._binary(op, node, self.parse_unary(), matching)
        return node

    def parse_unary(self) -> Node:
        if self.at("op", "-"):
            self.advance()
            inner = self.parse_unary()
            if isinstance(inner, Number):
                return Number(-inner.value, "-" + inner.text)
            return Negate(inner)
        if self.at("op", "+"):
            self.advance()
            return self.parse_unary()
        return self.parse_primary()

    def parse_matching(self) -> Matching | None:
        if not (self.at("name", "on") or self.at("name", "ignoring")):
            return None
        on = self.advance().text == "on"
        return Matching(self.parse_label_list(), on=on)

    def parse_label_list(self) -> tuple[str, ...]:
        self.expect("(", '"(" and a list of label names')
        labels: list[str] = []
        while not self.at("op", ")"):
            token = self.current
            if token.kind != "name" or not _LABEL_NAME.fullmatch(token.text):
                raise self.fail("a label name")
            labels.append(self.advance().text)
            if not self.at("op", ")"):
                self.expect(",", '"," or ")"')
        self.advance()
        return tuple(labels)

    def _binary(self, op: Token, left: Node, right: Node, matching: Matching | None) -> Node:
        if matching is not None and (left.type == "scalar" or right.type == "scalar"):
            raise ExpressionError(
                f"at column {op.column}: on(...)/ignoring(...) only apply between two vectors"
            )
        if isinstance(left, Number) and isinstance(right, Number) and op.text in ARITHMETIC:
            value = _fold(op.text, left.value, right.value)
            return Number(value, f"{left.text} {op.text} {right.text}")
        return Binary(op.text, left, right, matching or Matching())

    def parse_primary(self) -> Node:
        token = self.current
        if token.kind in ("number", "percent", "duration"):
            self.advance()
            value = (
                token.value.total_seconds() if isinstance(token.value, timedelta) else token.value
            )
            return Number(float(value), token.text)
        if self.at("op", "("):
            self.advance()
            node = self.parse_expr()
            self.expect(")")
            return node
        if token.kind == "string":
            raise ExpressionError(
                f"at column {token.column}: a string is only an argument of a check function,"
                f" like availability({token.text}, 30d)"
            )
        if self.at("op", "{"):
            raise ExpressionError(
                f"at column {token.column}: a metric selector needs a metric name, like"
                ' http_requests_total{job="api"}'
            )
        if token.kind != "name":
            raise self.fail("a number, a metric, a function or (")
        if token.text in _UNSUPPORTED:
            raise ExpressionError(f"at column {token.column}: {_UNSUPPORTED[token.text]}")
        if token.text in FUNCTIONS and self.tokens[self.index + 1].text in ("(", "by", "without"):
            return self.parse_call()
        return self.parse_selector()

    def parse_selector(self) -> Selector:
        name = self.advance()
        matchers = self.parse_matchers() if self.at("op", "{") else ()
        window = self.parse_window() if self.at("op", "[") else None
        return Selector(name.text, matchers, window)

    def parse_matchers(self) -> tuple[Matcher, ...]:
        self.expect("{")
        matchers: list[Matcher] = []
        while not self.at("op", "}"):
            label = self.current
            if label.kind != "name" or not _LABEL_NAME.fullmatch(label.text):
                raise self.fail('a label matcher like job="api"')
            self.advance()
            op = self.current
            if op.kind != "op" or op.text not in ("=", "!=", "=~", "!~"):
                raise self.fail("=, !=, =~ or !~ after a label name")
            self.advance()
            value = self.current
            if value.kind != "string":
                raise self.fail("a label value in quotes")
            self.advance()
            pattern = None
            if op.text in ("=~", "!~"):
                try:
                    pattern = re.compile(value.value)
                except re.error as exc:
                    raise ExpressionError(
                        f"at column {value.column}: invalid regular expression: {exc}"
                    ) from None
            matchers.append(Matcher(label.text, op.text, value.value, pattern))  # type: ignore[arg-type]
            if not self.at("op", "}"):
                self.expect(",", '"," or "}"')
        self.advance()
        return tuple(matchers)

    def parse_window(self) -> timedelta:
        self.expect("[")
        token = self.current
        if token.kind != "duration" or not token.value:
            raise self.fail("a window like [5m]")
        self.advance()
        self.expect("]")
        window: timedelta = token.value
        return window

    def parse_call(self) -> Node:
        name = self.advance()
        grouping = self.parse_grouping(name)
        self.expect("(", f'"(" after {name.text}')
        if name.text in CHECK_FUNCTIONS:
            node: Node = self.parse_check_call(name)
        elif name.text == "histogram_quantile":
            phi = self.parse_phi(name)
            self.expect(",", '"," and the buckets, like sum by (le) (rate(x_bucket[5m]))')
            inner = self.parse_expr()
            self._require_vector(inner, name)
            node = HistogramQuantile(phi, inner)
        else:
            phi = None
            if name.text == "quantile":
                phi = self.parse_phi(name)
                self.expect(",", '"," and what to take the quantile of')
            start = self.current
            arg = self.parse_expr()
            if isinstance(arg, Selector) and arg.window is not None:
                if name.text not in (*OVER_TIME, "absent"):
                    raise ExpressionError(
                        f"at column {start.column}: {name.text} takes an instant vector, not a"
                        " range: write the selector without [window]"
                    )
                if grouping is not None:
                    raise ExpressionError(
                        f"at column {name.column}: by/without group series across labels;"
                        f" {name.text}(x[window]) works per series over time"
                    )
                if name.text == "absent":
                    node = Absent(arg, arg.window)
                else:
                    node = OverTime(name.text, arg, arg.window, phi)
            elif name.text in ("rate", "increase", "last"):
                raise ExpressionError(
                    f"at column {start.column}: {name.text} needs a range like"
                    f" {name.text}(http_requests_total[5m])"
                )
            elif name.text == "absent":
                raise ExpressionError(
                    f"at column {start.column}: absent needs a range like absent(x[10m])"
                )
            else:
                self._require_vector(arg, name)
                labels, without = grouping or ((), False)
                node = Aggregate(name.text, arg, labels, without, phi)
        self.expect(")", '")" (functions take the arguments listed in docs/rules.md)')
        if (
            grouping is None
            and isinstance(node, Aggregate)
            and (self.at("name", "by") or self.at("name", "without"))
        ):
            labels, without = self.parse_grouping(name) or ((), False)
            node = Aggregate(node.function, node.expr, labels, without, node.phi)
        return node

    def parse_grouping(self, name: Token) -> tuple[tuple[str, ...], bool] | None:
        if not (self.at("name", "by") or self.at("name", "without")):
            return None
        if name.text not in AGGREGATIONS:
            raise self.fail(f'"(" after {name.text}')
        without = self.advance().text == "without"
        return self.parse_label_list(), without

    def parse_phi(self, name: Token) -> float:
        token = self.current
        if token.kind not in ("number", "percent") or not 0 <= token.value <= 1:
            raise self.fail(f"a quantile from 0 to 1 (like 0.95) as {name.text}'s first argument")
        self.advance()
        return float(token.value)

    def parse_check_call(self, name: Token) -> CheckFunction:
        token = self.current
        if token.kind == "string":
            self.advance()
            checks = CheckSelector((Matcher(CHECK_LABEL, "=", token.value),))
        elif self.at("op", "{"):
            checks = CheckSelector(self.parse_matchers())
        else:
            raise self.fail(
                f'a check name in quotes or a selector like {{team="api"}} for {name.text}'
            )
        window = None
        if CHECK_FUNCTIONS[name.text]:
            self.expect(",", f'"," and a window, like {name.text}("api", 5m)')
            duration = self.current
            if duration.kind != "duration" or not duration.value:
                raise self.fail("a window like 5m or 30d")
            self.advance()
            window = duration.value
        return CheckFunction(name.text, checks, window)

    @staticmethod
    def _require_vector(node: Node, name: Token) -> None:
        if node.type != "vector":
            raise ExpressionError(
                f"at column {name.column}: {name.text} needs series (a metric or a function),"
                " not a number"
            )


def _fold(op: str, left: float, right: float) -> float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return left / right if right else float("nan")


def parse(text: str) -> Node:
    """Parse ``text`` into a tree; raise :class:`ExpressionError` saying where and why."""
    return Parser(text).parse()
