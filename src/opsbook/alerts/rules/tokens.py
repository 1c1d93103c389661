"""The tokens of rule expressions: numbers, percentages, durations, strings, names, operators."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

_DURATION_PART = re.compile(r"(\d+)(ms|w|d|h|m|s)")
_UNIT: Final = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<duration>(?:\d+(?:ms|w|d|h|m|s))+)(?![A-Za-z0-9_:])
    | (?P<percent>\d+(?:\.\d+)?%)
    | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_:])
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<op>==|!=|>=|<=|=~|!~|[-+*/<>(){}\[\],=])
    )""",
    re.VERBOSE,
)


class ExpressionError(ValueError):
    """A mistake in an expression; the message says at which column and what was expected."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # duration, percent, number, string, name, op, end
    text: str
    column: int
    value: Any = None


def _unescape(body: str) -> str:
    # Only \\ and the quotes are escapes: a regex like "\d+" reads as written.
    return re.sub(r"\\([\\\"'])", r"\1", body)


def parse_duration_literal(text: str) -> timedelta:
    return sum((int(n) * _UNIT[unit] for n, unit in _DURATION_PART.findall(text)), timedelta())


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            raise ExpressionError(f"at column {column}: unexpected {text[column - 1]!r}")
        kind = match.lastgroup
        raw = match.group(kind)
        value: Any = None
        if kind == "duration":
            value = parse_duration_literal(raw)
        elif kind == "percent":
            value = float(raw[:-1]) / 100
        elif kind == "number":
            value = float(raw)
        elif kind == "string":
            value = _unescape(raw[1:-1])
        tokens.append(Token(kind, raw, match.start(kind) + 1, value))
        position = match.end()
    tokens.append(Token("end", "", len(text.rstrip()) + 1))
    return tokens
