"""JSON shapes of the rules API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from opsbook.alerts.rules.status import RuleStatus


class RuleSeriesOut(BaseModel):
    labels: dict[str, str]
    alert_labels: dict[str, str]
    state: str
    value: float | None
    active_since: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    annotations: dict[str, str]


class RuleOut(BaseModel):
    name: str
    description: str | None
    expr: str | None
    source: str | None
    query: str | None
    for_seconds: float
    keep_firing_for_seconds: float
    every_seconds: float
    severity: str | None
    labels: dict[str, str]
    state: str
    last_evaluated_at: datetime | None
    evaluation_ms: float | None
    last_error: str | None
    series: list[RuleSeriesOut]

    @classmethod
    def of(cls, status: RuleStatus) -> RuleOut:
        rule = status.rule
        return cls(
            name=rule.name,
            description=rule.description or None,
            expr=str(rule.expr) if rule.expr is not None else None,
            source=rule.source,
            query=rule.query,
            for_seconds=rule.for_.total_seconds(),
            keep_firing_for_seconds=rule.keep_firing_for.total_seconds(),
            every_seconds=rule.every.total_seconds(),
            severity=rule.severity,
            labels=dict(rule.labels),
            state=status.state,
            last_evaluated_at=status.last_evaluated_at,
            evaluation_ms=status.duration_ms,
            last_error=status.last_error,
            series=[
                RuleSeriesOut(
                    labels=dict(s.labels),
                    alert_labels=dict(s.alert_labels),
                    state=s.state,
                    value=s.value,
                    active_since=s.active_since,
                    fired_at=s.fired_at,
                    resolved_at=s.resolved_at,
                    annotations=dict(s.annotations),
                )
                for s in status.series
            ],
        )
