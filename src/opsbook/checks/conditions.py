"""The condition language shared by every check kind, parsed once at config load.

    status == 200
    body.services.database == "healthy" and response_time < 2s
    headers["strict-transport-security"] exists
    result.rows[0].count < 90

A hand-written recursive-descent parser turns the text into a small tree; nothing is
``eval``-ed. The grammar is documented in docs/checks.md::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" expr ")" | test
    test       := path ( OP literal | "contains" literal | "matches" STRING
                        | "in" "[" literal ("," literal)* "]" | "exists" | "not" "exists" )
    path       := NAME ( "." NAME | "[" INT "]" | "[" STRING "]" )*
    literal    := NUMBER | DURATION | STRING | "true" | "false" | "null"
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from opsbook.checks.condition_tree import (
    MISSING,
    Both,
    Node,
    Not,
    Path,
    Test,
    Values,
    contains,
    equal,
    ordered,
)
from opsbook.checks.result import ConditionVerdict

__all__ = ["Condition", "ConditionText", "quote"]

_KEYWORDS: Final = frozenset(
    {"and", "or", "not", "contains", "matches", "in", "exists", "true", "false", "null"}
)
_COMPARISONS: Final = ("==", "!=", "<=", ">=", "<", ">")
_OPERATOR_HINT: Final = "an operator (==, !=, <, <=, >, >=, contains, matches, in, exists)"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_UNIT_SECONDS: Final = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<duration>(?:\d+(?:\.\d+)?(?:ms|d|h|m|s))+)(?![A-Za-z0-9_])
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_])
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.|=)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # duration, number, string, name, op, end
    text: str
    column: int  # 1-based, for the error message
    value: Any = None


class _ParseError(ValueError):
    pass


def _unescape(body: str) -> str:
    # Only \\ and the quotes are escapes: any other backslash stays, so regexes read naturally.
    return re.sub(r"\\([\\\"'])", r"\1", body)


def quote(text: str) -> str:
    """Write ``text`` as a string literal of the language (what :func:`Condition.parse` reads)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            raise _ParseError(f"at column {column}: unexpected {text[column - 1]!r}")
        kind = match.lastgroup
        raw = match.group(kind)
        column = match.start(kind) + 1
        value: Any = None
        if kind == "duration":
            value = sum(
                float(amount) * _UNIT_SECONDS[unit] for amount, unit in _DURATION_PART.findall(raw)
            )
        elif kind == "number":
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "string":
            value = _unescape(raw[1:-1])
        tokens.append(_Token(kind, raw, column, value))
        position = match.end()
    tokens.append(_Token("end", "", len(text.rstrip()) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.current
        return token.kind == kind and (text is None or token.text == text)

    def fail(self, expected: str) -> _ParseError:
        token = self.current
        got = "the end" if token.kind == "end" else json.dumps(token.text)
        return _ParseError(f"at column {token.column}: expected {expected}, got {got}")

    def expect(self, kind: str, text: str, description: str) -> None:
        if not self.at(kind, text):
            raise self.fail(description)
        self.advance()

    def parse(self) -> Node:
        if self.at("end"):
            raise _ParseError("the condition is empty")
        node = self.parse_or()
        if not self.at("end"):
            raise self.fail("and, or, or the end of the condition")
        return node

    def parse_or(self) -> Node:
        node = self.parse_and()
        while self.at("name", "or"):
            self.advance()
            node = Both(node, self.parse_and(), any_of=True)
        return node

    def parse_and(self) -> Node:
        node = self.parse_not()
        while self.at("name", "and"):
            self.advance()
            node = Both(node, self.parse_not(), any_of=False)
        return node

    def parse_not(self) -> Node:
        if self.at("name", "not"):
            self.advance()
            return Not(self.parse_not())
        if self.at("op", "("):
            self.advance()
            node = self.parse_or()
            self.expect("op", ")", '")"')
            return node
        return self.parse_test()

    def parse_path(self) -> Path:
        token = self.current
        if token.kind != "name" or token.text in _KEYWORDS:
            raise self.fail('a field like status, body.services.database or headers["x"]')
        self.advance()
        parts: list[str | int] = [token.text]
        text = token.text
        while self.at("op", ".") or self.at("op", "["):
            if self.advance().text == ".":
                if not self.at("name"):
                    raise self.fail('a field name after "."')
                name = self.advance().text
                parts.append(name)
                text += "." + name
                continue
            key = self.advance()
            if key.kind == "number" and isinstance(key.value, int):
                parts.append(key.value)
            elif key.kind == "string":
                # Header names are case-insensitive; the probes report them lowercased.
                parts.append(key.value.lower() if parts == ["headers"] else key.value)
            else:
                self.index -= 1
                raise self.fail('a list index like [0] or a key like ["name"]')
            self.expect("op", "]", '"]"')
            text += f"[{key.text}]"
        return Path(text, tuple(parts))

    def parse_literal(self) -> tuple[Any, bool]:
        token = self.current
        if token.kind in ("number", "string", "duration"):
            self.advance()
            return token.value, token.kind == "duration"
        if token.kind == "name" and token.text in ("true", "false", "null"):
            self.advance()
            return {"true": True, "false": False, "null": None}[token.text], False
        raise self.fail(
            "a value: a number, a duration like 2s, a string in quotes, true, false or null"
        )

    def parse_test(self) -> Node:
        path = self.parse_path()
        token = self.current
        if token.kind == "op" and token.text in _COMPARISONS:
            self.advance()
            expected, seconds = self.parse_literal()
            op = token.text
            if op in ("==", "!="):
                negate = op == "!="
                return Test(path, lambda v: equal(v, expected) != negate, seconds)
            if not isinstance(expected, int | float | str) or isinstance(expected, bool):
                self.index -= 1
                raise self.fail(f"a number, duration or string to compare with {op}")
            return Test(path, lambda v: ordered(op, v, expected), seconds)
        if token.kind == "op" and token.text == "=":
            raise _ParseError(f'at column {token.column}: "=" is not an operator, write "=="')
        if token.kind != "name":
            raise self.fail(_OPERATOR_HINT)
        self.advance()
        if token.text == "contains":
            expected, _ = self.parse_literal()
            return Test(path, lambda v: contains(v, expected))
        if token.text == "matches":
            pattern = self.current
            if pattern.kind != "string":
                raise self.fail("a regular expression in quotes")
            self.advance()
            try:
                regex = re.compile(pattern.value)
            except re.error as exc:
                raise _ParseError(
                    f"at column {pattern.column}: invalid regular expression: {exc}"
                ) from None
            return Test(path, lambda v: isinstance(v, str) and regex.search(v) is not None)
        if token.text == "in":
            self.expect("op", "[", 'a list like [200, 204] after "in"')
            options = [self.parse_literal()[0]]
            while self.at("op", ","):
                self.advance()
                options.append(self.parse_literal()[0])
            self.expect("op", "]", '"," or "]"')
            return Test(path, lambda v: any(equal(v, option) for option in options))
        if token.text == "exists":
            return Test(path, lambda v: v is not MISSING and v is not None)
        if token.text == "not" and self.at("name", "exists"):
            self.advance()
            return Test(path, lambda v: v is MISSING or v is None)
        self.index -= 1
        raise self.fail(_OPERATOR_HINT)


def render(value: Any, *, seconds: bool = False) -> str:
    """Show an observed value in a verdict: ``"degraded"``, ``503``, ``2.31s``, ``nothing``."""
    if value is MISSING:
        return "nothing (no such field)"
    if seconds and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.3g}s" if value < 1 else f"{value:.2f}s"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed condition: ``Condition.parse('status == 200').evaluate({"status": 503})``.

    ``str(condition)`` is its text, which is how opsbook.yaml writes it.
    """

    text: str
    _tree: Node = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse ``text``; raise ``ValueError`` saying where and what was expected."""
        stripped = text.strip()
        try:
            return cls(stripped, _Parser(stripped).parse())
        except _ParseError as exc:
            raise ValueError(f"invalid condition {_show(stripped)}: {exc}") from None

    def evaluate(self, values: Values) -> ConditionVerdict:
        """Evaluate over a probe's values; a missing field fails, it never raises."""
        ok, seen = self._tree.evaluate(values)
        if len(seen) == 1:
            ((observed, seconds),) = seen.values()
            got = render(observed, seconds=seconds)
        else:
            observed = {path: value for path, (value, _) in seen.items()}
            got = ", ".join(
                f"{path} = {render(value, seconds=s)}" for path, (value, s) in seen.items()
            )
        shown = None if observed is MISSING else observed
        if isinstance(shown, dict):
            shown = {k: None if v is MISSING else v for k, v in shown.items()}
        return ConditionVerdict(self.text, ok, shown, f"expected {self.text}, got {got}")

    def __str__(self) -> str:
        return self.text


def _show(text: str) -> str:
    # Conditions are full of double quotes: escaping them all would make the text unreadable.
    return f"'{text}'" if '"' in text and "'" not in text else json.dumps(text)


def _validate_condition(value: object) -> Condition:
    if isinstance(value, Condition):
        return value
    if not isinstance(value, str):
        raise ValueError(f'expected a condition like "status == 200" in quotes, got {value!r}')
    return Condition.parse(value)


ConditionText = Annotated[
    Condition,
    PlainValidator(_validate_condition, json_schema_input_type=str),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["status == 200", "response_time < 2s"]}),
]
