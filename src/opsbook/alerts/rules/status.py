"""What each configured rule is doing now: read by ``opsbook rules`` and ``/api/v1/rules``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.alerts.rules.config import RuleConfig
from opsbook.alerts.rules.models import RuleHealth, RuleSeriesState
from opsbook.config import OpsbookConfig

_RANK = {"firing": 3, "pending": 2, "resolved": 1, "inactive": 0}


@dataclass(frozen=True, slots=True)
class SeriesStatus:
    labels: Mapping[str, str]
    alert_labels: Mapping[str, str]
    state: str
    value: float | None
    active_since: datetime | None
    fired_at: datetime | None
    resolved_at: datetime | None
    annotations: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RuleStatus:
    rule: RuleConfig
    state: str  # the most urgent of its series: firing > pending > resolved > inactive
    last_evaluated_at: datetime | None
    duration_ms: float | None
    last_error: str | None
    series: tuple[SeriesStatus, ...]

    @property
    def expression(self) -> str:
        return str(self.rule.expr) if self.rule.expr is not None else str(self.rule.query)


def rule_statuses(session: Session, *, config: OpsbookConfig) -> list[RuleStatus]:
    health = {row.rule_name: row for row in session.scalars(select(RuleHealth))}
    series: dict[str, list[SeriesStatus]] = defaultdict(list)
    rows = session.scalars(
        select(RuleSeriesState).order_by(RuleSeriesState.rule_name, RuleSeriesState.series_key)
    )
    for row in rows:
        series[row.rule_name].append(
            SeriesStatus(
                labels=dict(row.series_labels),
                alert_labels=dict(row.alert_labels),
                state=row.state,
                value=row.value,
                active_since=row.active_since,
                fired_at=row.fired_at,
                resolved_at=row.resolved_at,
                annotations=dict(row.annotations),
            )
        )
    out = []
    for rule in config.rules:
        found = series.get(rule.name, [])
        state = max((s.state for s in found), key=_RANK.__getitem__, default="inactive")
        checked = health.get(rule.name)
        out.append(
            RuleStatus(
                rule=rule,
                state=state,
                last_evaluated_at=checked.last_evaluated_at if checked else None,
                duration_ms=checked.duration_ms if checked else None,
                last_error=checked.last_error if checked else None,
                series=tuple(found),
            )
        )
    return out
