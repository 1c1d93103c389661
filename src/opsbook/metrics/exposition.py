"""A parser of the Prometheus text exposition format, version 0.0.4.

Per the format's documentation: lines end in ``\\n``; ``# HELP name text`` and
``# TYPE name counter|gauge|histogram|summary|untyped`` are metadata and other ``#``
lines are comments; a sample is ``name{label="value",...} value [timestamp_ms]`` where
label values escape ``\\\\``, ``\\"`` and ``\\n``, a trailing comma in the braces is
allowed, and the value is a float (``NaN``, ``+Inf``, ``-Inf`` included).  Histograms
and summaries arrive as their ``_bucket{le=...}``/``{quantile=...}``, ``_sum`` and
``_count`` samples, which are stored as the series they are, as Prometheus does.

    parse_exposition('# TYPE up gauge\\nup{job="api"} 1\\n').samples
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Final

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*\"")
TYPES: Final = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
_ESCAPES: Final = {"\\": "\\", '"': '"', "n": "\n"}


class ExpositionError(ValueError):
    """The body is not in the text format; the message names the line."""


@dataclass(frozen=True, slots=True)
class ExposedSample:
    name: str
    labels: dict[str, str]
    value: float
    timestamp_ms: int | None = None


@dataclass
class Exposition:
    samples: list[ExposedSample] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)
    help: dict[str, str] = field(default_factory=dict)


def _label_value(line: str, position: int, number: int) -> tuple[str, int]:
    chars: list[str] = []
    while position < len(line):
        char = line[position]
        if char == "\\":
            escaped = line[position + 1 : position + 2]
            if escaped not in _ESCAPES:
                raise ExpositionError(f"line {number}: invalid escape \\{escaped} in a label value")
            chars.append(_ESCAPES[escaped])
            position += 2
        elif char == '"':
            return "".join(chars), position + 1
        else:
            chars.append(char)
            position += 1
    raise ExpositionError(f"line {number}: unterminated label value")


def _labels(line: str, position: int, number: int) -> tuple[dict[str, str], int]:
    labels: dict[str, str] = {}
    position += 1  # "{"
    while True:
        rest = line[position:].lstrip()
        position = len(line) - len(rest)
        if rest.startswith("}"):
            return labels, position + 1
        match = _LABEL.match(line, position)
        if match is None:
            raise ExpositionError(f'line {number}: expected a label like name="value" or "}}"')
        name = match.group(1)
        if name in labels:
            raise ExpositionError(f"line {number}: label {name!r} appears twice")
        labels[name], position = _label_value(line, match.end(), number)
        rest = line[position:].lstrip()
        position = len(line) - len(rest)
        if rest.startswith(","):
            position += 1
        elif not rest.startswith("}"):
            raise ExpositionError(f'line {number}: expected "," or "}}" after a label')


def _value(text: str, number: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise ExpositionError(f"line {number}: {text!r} is not a number") from None


def _metadata(line: str, exposition: Exposition, number: int) -> None:
    parts = line[1:].strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in ("HELP", "TYPE"):
        return  # an ordinary comment
    keyword, name = parts[0], parts[1]
    if not _NAME.fullmatch(name):
        raise ExpositionError(f"line {number}: {name!r} is not a metric name")
    rest = parts[2] if len(parts) > 2 else ""
    if keyword == "TYPE":
        if rest.strip() not in TYPES:
            raise ExpositionError(f"line {number}: unknown metric type {rest.strip()!r}")
        if name in exposition.types:
            raise ExpositionError(f"line {number}: a second TYPE line for {name}")
        exposition.types[name] = rest.strip()
    else:
        exposition.help[name] = rest.replace("\\n", "\n").replace("\\\\", "\\")


def parse_exposition(text: str) -> Exposition:
    """Parse a whole scrape body; raise :class:`ExpositionError` at the first bad line."""
    exposition = Exposition()
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("#"):
            _metadata(line, exposition, number)
            continue
        match = _NAME.match(line)
        if match is None:
            raise ExpositionError(f"line {number}: expected a metric name")
        name, position = match.group(0), match.end()
        labels: dict[str, str] = {}
        if line[position:].lstrip().startswith("{"):
            position = len(line) - len(line[position:].lstrip())
            labels, position = _labels(line, position, number)
        fields = line[position:].split()
        if not fields or len(fields) > 2 or (position < len(line) and line[position] not in " \t"):
            raise ExpositionError(f"line {number}: expected a value and an optional timestamp")
        value = _value(fields[0], number)
        timestamp = None
        if len(fields) == 2:
            try:
                timestamp = int(fields[1])
            except ValueError:
                raise ExpositionError(
                    f"line {number}: timestamp {fields[1]!r} is not whole milliseconds"
                ) from None
        exposition.samples.append(ExposedSample(name, labels, value, timestamp))
    return exposition


def is_storable(value: float) -> bool:
    """NaN cannot be stored (SQLite reads it as NULL) and says nothing a rule can compare."""
    return not math.isnan(value)
