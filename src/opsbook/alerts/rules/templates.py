"""Annotation templates in Prometheus's syntax (a subset of Go's text/template).

    Template.parse("Error rate {{ $value | humanizePercentage }} on {{ $labels.job }}")

Supported: ``{{ $value }}`` (also ``.Value``), ``{{ $labels.NAME }}`` (also
``.Labels.NAME`` and ``index $labels "NAME"``), pipes into ``humanize``,
``humanizePercentage``, ``humanizeDuration``, ``printf "FORMAT"``, ``toUpper``,
``toLower`` and ``title``; ``{{-`` and ``-}}`` trim the spaces next to them.  Templates
are parsed at config load, so an unknown function is a located error.  Values print as
Go prints a float64 (``0.05``, ``3``, ``1e+06``), so templates copied from Prometheus
rules read the same.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Final

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.DOTALL)
_LABEL_REF = re.compile(r"(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)")


def go_float(value: float) -> str:
    """Format like Go's ``%v`` for a float64: shortest digits, exponent from 1e+06 and below."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # where the decimal point sits in the digits
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'+' if x >= 0 else '-'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def _g4(value: float) -> str:
    return f"{value:.4g}"


def humanize(value: float) -> str:
    """Prometheus's humanize: 1234567 -> ``1.235M``, 0.0012 -> ``1.2m``."""
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    if abs(value) >= 1:
        prefix = ""
        for unit in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = unit, value / 1000
        return _g4(value) + prefix
    prefix = ""
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix, value = unit, value * 1000
    return _g4(value) + prefix


def humanize_percentage(value: float) -> str:
    return _g4(value * 100) + "%"


def humanize_duration(value: float) -> str:
    """Prometheus's humanizeDuration: 90061 -> ``1d 1h 1m 1s``, 0.25 -> ``250ms``."""
    if math.isnan(value) or math.isinf(value):
        return _g4(value)
    sign = "-" if value < 0 else ""
    seconds = abs(value)
    if seconds == 0:
        return "0s"
    if seconds >= 1:
        whole = int(seconds)
        days, hours = whole // 86400, whole // 3600 % 24
        minutes, secs = whole // 60 % 60, whole % 60
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {secs}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {secs}s"
        if minutes:
            return f"{sign}{minutes}m {secs}s"
        return f"{sign}{_g4(seconds)}s"
    prefix = ""
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if seconds >= 1:
            break
        prefix, seconds = unit, seconds * 1000
    return f"{sign}{_g4(seconds)}{prefix}s"


def _printf(form: str, value: object) -> str:
    python = form.replace("%v", "%s")
    try:
        if re.search(r"%[-+ #0]*\d*(?:\.\d+)?[dfeEgG]", python) and isinstance(value, str):
            value = float(value)
        if isinstance(value, float) and re.search(r"%[-+ #0]*\d*[d]", python):
            value = int(value)
        if isinstance(value, float) and "%s" in python:
            value = go_float(value)
        return python % (value,)
    except (TypeError, ValueError):
        return f"%!({form}={value})"


_PIPES: Final[dict[str, Callable[[object], str]]] = {
    "humanize": lambda v: humanize(_number(v)),
    "humanizePercentage": lambda v: humanize_percentage(_number(v)),
    "humanizeDuration": lambda v: humanize_duration(_number(v)),
    "toUpper": lambda v: _text(v).upper(),
    "toLower": lambda v: _text(v).lower(),
    "title": lambda v: _text(v).title(),
}


def _number(value: object) -> float:
    if isinstance(value, float | int):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return math.nan


def _text(value: object) -> str:
    return go_float(value) if isinstance(value, float) else str(value)


@dataclass(frozen=True, slots=True)
class _Action:
    source: tuple[str, str]  # ("value", "") or ("label", name) or ("text", literal)
    pipes: tuple[tuple[str, str], ...]  # (function, printf format or "")


def _parse_term(words: list[str], text: str) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    pipes: list[tuple[str, str]] = []
    if words[:1] == ["printf"]:
        if len(words) != 3:
            raise ValueError(f'{{{{ {text} }}}}: write printf "FORMAT" $value')
        pipes.append(("printf", words[1]))
        words = [words[2]]
    elif words[:1] == ["index"]:
        if len(words) != 3 or words[1] not in ("$labels", ".Labels"):
            raise ValueError(f'{{{{ {text} }}}}: write index $labels "NAME"')
        return ("label", words[2]), pipes
    if len(words) != 1:
        raise ValueError(f"{{{{ {text} }}}}: expected $value or $labels.NAME")
    word = words[0]
    if word in ("$value", ".Value"):
        return ("value", ""), pipes
    label = _LABEL_REF.fullmatch(word)
    if label:
        return ("label", label.group(1)), pipes
    raise ValueError(f"{{{{ {text} }}}}: unknown {word!r}; templates know $value and $labels.NAME")


def _parse_action(text: str) -> _Action:
    stages = [stage.strip() for stage in text.split("|")]
    try:
        first = shlex.split(stages[0])
    except ValueError as exc:
        raise ValueError(f"{{{{ {text} }}}}: {exc}") from None
    if not first:
        raise ValueError("an empty {{ }}")
    source, pipes = _parse_term(first, text)
    for stage in stages[1:]:
        words = shlex.split(stage)
        if words[:1] == ["printf"] and len(words) == 2:
            pipes.append(("printf", words[1]))
        elif len(words) == 1 and words[0] in _PIPES:
            pipes.append((words[0], ""))
        else:
            known = ", ".join([*_PIPES, "printf"])
            raise ValueError(f"{{{{ {text} }}}}: unknown function {stage!r} (known: {known})")
    return _Action(source, tuple(pipes))


@dataclass(frozen=True, slots=True)
class Template:
    text: str
    parts: tuple[str | _Action, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        parts: list[str | _Action] = []
        position = 0
        for match in _ACTION.finditer(text):
            literal = text[position : match.start()]
            if match.group(1):
                literal = literal.rstrip()
            if parts and isinstance(parts[-1], str) and parts[-1] == "\x00trim":
                parts.pop()
                literal = literal.lstrip()
            parts.append(literal)
            parts.append(_parse_action(match.group(2).strip()))
            if match.group(3):
                parts.append("\x00trim")
            position = match.end()
        rest = text[position:]
        if parts and parts[-1] == "\x00trim":
            parts.pop()
            rest = rest.lstrip()
        if "{{" in rest:
            raise ValueError("a {{ without its }}")
        parts.append(rest)
        return cls(text, tuple(p for p in parts if p != ""))

    def render(self, *, value: float, labels: Mapping[str, str]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            kind, name = part.source
            current: object = value if kind == "value" else labels.get(name, "")
            for function, form in part.pipes:
                current = (
                    _printf(form, current) if function == "printf" else _PIPES[function](current)
                )
            out.append(_text(current))
        return "".join(out)

    def __str__(self) -> str:
        return self.text


def _validate(value: object) -> Template:
    if isinstance(value, Template):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a template string, got {value!r}")
    try:
        return Template.parse(value)
    except ValueError as exc:
        raise ValueError(f"invalid template: {exc}") from None


TemplateText = Annotated[
    Template,
    PlainValidator(_validate, json_schema_input_type=str),
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "examples": ["Error rate is {{ $value | humanizePercentage }}"]}
    ),
]
