"""Configuration of alert rules (``rules[N]``) and of how every rule runs (``settings.rules``).

rules:
  - name: HighErrorRate
    expr: 'sum(rate(http_errors_total[5m])) / sum(rate(http_requests_total[5m])) > 5%'
    for: 5m
    severity: P1
    annotations:
      summary: "Error rate {{ $value | humanizePercentage }}"
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from pydantic import Field, field_validator, model_validator

from opsbook.alerts.rules.expression import Expression, RuleExpressionText
from opsbook.alerts.rules.templates import TemplateText
from opsbook.config.defaults import Severity
from opsbook.config.values import ConfigModel, Duration, Text, located_error, parse_duration

RULE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
_LABEL_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESERVED_LABELS: Final = frozenset({"alertname", "severity"})


class RuleConfig(ConfigModel):
    """An alert rule: an ``expr`` over checks and metrics, or a ``query`` on a Prometheus."""

    name: str
    description: str = ""
    expr: RuleExpressionText | None = None
    # A Prometheus named in metrics.prometheus, and the PromQL query it evaluates.
    source: str | None = None
    query: Text | None = None
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    every: Duration = parse_duration("1m")
    severity: Severity | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, TemplateText] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not RULE_NAME.fullmatch(value):
            raise ValueError(
                f"expected a rule name of letters, digits, _ . : or - like HighErrorRate,"
                f" got {json.dumps(value)}"
            )
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for label in value:
            if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                raise ValueError(f"{label!r} is not a label name (letters, digits and _)")
            if label in RESERVED_LABELS:
                raise ValueError(f'"{label}" is set by the rule itself (name:, severity:)')
        return value

    @model_validator(mode="after")
    def _one_way_to_evaluate(self) -> RuleConfig:
        if self.expr is None and self.source is None:
            raise located_error("expr", "rule_expr", 'a rule needs "expr", or "source" and "query"')
        if self.expr is not None and (self.source is not None or self.query is not None):
            raise located_error(
                "source" if self.source is not None else "query",
                "rule_expr",
                'give either "expr" or "source" with "query", not both',
            )
        if self.source is not None and self.query is None:
            raise located_error("source", "rule_expr", 'a rule with "source" needs a "query"')
        if self.query is not None and self.source is None:
            raise located_error("query", "rule_expr", 'a "query" needs the "source" it runs on')
        if self.every < timedelta(seconds=1):
            raise located_error("every", "rule_every", "must be at least 1s")
        return self

    def definition(self) -> str:
        """A hash of what decides the rule's alerts: a reload that changes it is recorded."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class RuleSettings(ConfigModel):
    """How every rule is evaluated and its alerts re-sent (``settings.rules``)."""

    # A firing alert is re-sent this often; it is valid until 4 x max(resend_every, every).
    resend_every: Duration = parse_duration("1m")
    # A pending series whose last evaluation is older than this starts its `for` again.
    outage_tolerance: Duration = parse_duration("1h")


def rule_problems(data: Mapping[str, Any], known: Mapping[str, list[str]]) -> list[tuple[Any, str]]:
    """Rules naming checks or Prometheus sources that do not exist, on plain config data.

    Returns ``(loc, message)`` pairs; :func:`opsbook.config.schema.cross_check` makes them
    problems, so they are reported with every other error.
    """
    problems: list[tuple[Any, str]] = []
    metrics = data.get("metrics")
    sources = metrics.get("prometheus") if isinstance(metrics, dict) else None
    source_names = [
        s.get("name") for s in (sources if isinstance(sources, list) else []) if isinstance(s, dict)
    ]
    keep_raw = _keep_raw(metrics)
    rules = data.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, dict):
            continue
        source = rule.get("source")
        if isinstance(source, str) and source not in source_names:
            defined = ", ".join(f'"{n}"' for n in source_names) or "none"
            problems.append(
                (
                    ("rules", index, "source"),
                    f'no Prometheus source "{source}" in metrics.prometheus (defined: {defined})',
                )
            )
        text = rule.get("expr")
        if not isinstance(text, str):
            continue
        try:
            expression = Expression.parse(text)
        except ValueError:
            continue  # validation reports the grammar
        for name in expression.check_names():
            if name not in known.get("checks", []):
                problems.append((("rules", index, "expr"), f'no check "{name}" is defined'))
        for length in expression.quantile_windows():
            if keep_raw is not None and length > keep_raw:
                problems.append(
                    (
                        ("rules", index, "expr"),
                        "quantile reads raw samples: its window must"
                        " not be longer than metrics.keep_raw",
                    )
                )
    return problems


def _keep_raw(metrics: object) -> timedelta | None:
    raw = metrics.get("keep_raw", "2d") if isinstance(metrics, dict) else "2d"
    try:
        return parse_duration(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
