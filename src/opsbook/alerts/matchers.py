"""Alertmanager's label matchers: ``name="value"``, ``name!="value"``, ``=~`` and ``!~``.

The syntax is Alertmanager's (``amtool``, ``matchers:`` in its routes, silences):

- one matcher: ``severity="critical"``; the value may be unquoted (``severity=critical``);
- several: ``{alertname="Down", service=~"api|web"}`` (braces optional), comma-separated;
- a regex matches the *whole* value (``=~"api"`` does not match ``api-2``);
- a missing label has the value ``""``, so ``team=""`` matches alerts without ``team``.

>>> matcher = parse_matcher('service=~"api|web"')
>>> matcher.matches({"service": "api"}), str(matcher)
(True, 'service=~"api|web"')
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from opsbook.alerts.labels import go_quote

Operator = Literal["=", "!=", "=~", "!~"]
OPERATORS: tuple[Operator, ...] = ("=", "!=", "=~", "!~")
_MATCHER = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|!=|!~|=)\s*(.*?)\s*", re.DOTALL)
HINT = 'expected a matcher like severity="critical", service=~"api|web" or team!="db"'


class MatcherError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    operator: Operator
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, operator: Operator, value: str) -> Matcher:
        regex = None
        if operator in ("=~", "!~"):
            try:
                regex = re.compile(f"(?:{value})", re.DOTALL)
            except re.error as exc:
                raise MatcherError(f"invalid regular expression {value!r}: {exc}") from None
        return cls(name, operator, value, regex)

    @property
    def is_regex(self) -> bool:
        return self.operator in ("=~", "!~")

    @property
    def is_equal(self) -> bool:
        return self.operator in ("=", "=~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self._regex is not None:
            found = self._regex.fullmatch(value) is not None
        else:
            found = value == self.value
        return found if self.is_equal else not found

    def matches_value(self, value: str) -> bool:
        return self.matches({self.name: value})

    def __str__(self) -> str:
        return f"{self.name}{self.operator}{go_quote(self.value)}"

    def to_api(self) -> dict[str, Any]:
        """The Alertmanager v2 JSON form: ``{name, value, isRegex, isEqual}``."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.is_equal,
        }

    @classmethod
    def from_api(cls, data: object) -> Matcher:
        if not isinstance(data, Mapping):
            raise MatcherError("a matcher must be an object with name, value and isRegex")
        name, value = data.get("name"), data.get("value")
        is_regex, is_equal = data.get("isRegex", False), data.get("isEqual", True)
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
            raise MatcherError(f"invalid matcher name {name!r}")
        if not isinstance(value, str):
            raise MatcherError(f"the value of matcher {name!r} must be a string")
        if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
            raise MatcherError(f"isRegex and isEqual of matcher {name!r} must be booleans")
        operator: Operator = (
            ("=~" if is_equal else "!~") if is_regex else ("=" if is_equal else "!=")
        )
        return cls.of(name, operator, value)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise MatcherError(f"badly quoted value {raw}") from None
        if not isinstance(value, str):
            raise MatcherError(f"badly quoted value {raw}")
        return value
    if raw.startswith('"') or raw.endswith('"'):
        raise MatcherError(f"unbalanced quotes in {raw}")
    return raw


def parse_matcher(text: str) -> Matcher:
    match = _MATCHER.fullmatch(text)
    if match is None:
        raise MatcherError(f"{HINT}, got {text.strip()!r}")
    name, operator, raw = match.groups()
    return Matcher.of(name, operator, _unquote(raw))  # type: ignore[arg-type]


def _split(text: str) -> list[str]:
    """Split on commas outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise MatcherError(f"unbalanced quotes in {text.strip()!r}")
    parts.append("".join(current))
    return parts


def parse_matchers(text: str) -> list[Matcher]:
    """Parse ``{a="1", b=~"x|y"}`` (braces optional) into matchers."""
    stripped = text.strip()
    if stripped.startswith("{") != stripped.endswith("}"):
        raise MatcherError(f"unbalanced braces in {stripped!r}")
    if stripped.startswith("{"):
        stripped = stripped[1:-1]
    parts = [part for part in _split(stripped) if part.strip()]
    return [parse_matcher(part) for part in parts]


def parse_all(texts: Iterable[str]) -> list[Matcher]:
    """Each text may hold one matcher or a braced list (as ``amtool`` accepts)."""
    return [matcher for text in texts for matcher in parse_matchers(text)]


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


def matchers_string(matchers: Sequence[Matcher]) -> str:
    """``{severity="critical",team="db"}``: how Alertmanager writes a route's matchers."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def can_match(matchers: Sequence[Matcher], known: Mapping[str, str]) -> bool:
    """False when a matcher on a label of ``known`` already fails: no alert with those
    labels can match.  (True means "maybe": other labels decide.)"""
    return all(m.matches(known) for m in matchers if m.name in known)
