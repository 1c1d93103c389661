"""Evaluating rules and persisting what they decide, in the caller's transaction.

The alert sink (:class:`~opsbook.alerts.contract.AlertSink`) is called in the same
transaction that writes the state change, so a rule that went firing has its alert in
the pipeline, or neither happened; a restart finds the state as it was and neither
re-pages (a firing series is only refreshed) nor forgets (pending keeps its start)::

    with db.session() as session, session.begin():
        results = evaluate_rules(session, config=config, rules=config.rules, now=now,
                                 sink=sink)
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opsbook.alerts.contract import AlertInput, AlertSink
from opsbook.alerts.rules.config import RuleConfig, RuleSettings
from opsbook.alerts.rules.evaluator import Candidate, EvaluationError, candidates
from opsbook.alerts.rules.models import RuleHealth, RuleSeriesState
from opsbook.alerts.rules.sources import StoreData
from opsbook.alerts.rules.state import (
    KEEP_RESOLVED,
    RuleState,
    SeriesState,
    Timing,
    advance,
)
from opsbook.config import OpsbookConfig
from opsbook.metrics.prometheus import PrometheusError
from opsbook.metrics.query import SeriesCatalog, SeriesValue

log = structlog.get_logger(__name__)

SOURCE = "rule"
# Prometheus's rule: a firing alert is valid for 4 x max(resend interval, evaluation interval).
VALIDITY_FACTOR = 4

Remote = Mapping[str, "list[SeriesValue] | PrometheusError"]


@dataclass(frozen=True, slots=True)
class StateChange:
    rule: str
    labels: Mapping[str, str]
    from_state: RuleState
    to_state: RuleState
    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class RuleEvaluation:
    """One evaluation of one rule: what it saw, what changed, what it sent."""

    rule: str
    at: datetime
    series: int
    active: int
    changes: tuple[StateChange, ...]
    sent: int
    error: str | None = None


def series_key(labels: Mapping[str, str]) -> str:
    text = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def check_labels(config: OpsbookConfig) -> dict[str, dict[str, str]]:
    return {check.name: dict(check.labels) for check in config.checks}


def rule_candidates(
    session: Session,
    *,
    config: OpsbookConfig,
    rule: RuleConfig,
    now: datetime,
    remote: Remote | None = None,
    catalog: SeriesCatalog | None = None,
) -> list[Candidate]:
    """What the rule's expression (or Prometheus query) says now, series by series.

    ``catalog`` shares the metric series read between the rules of one round.

    Raises :class:`EvaluationError` or :class:`PrometheusError` when it cannot say.
    """
    if rule.expr is None:
        found = (remote or {}).get(rule.name)
        if found is None:
            raise PrometheusError("the query was not run")
        if isinstance(found, PrometheusError):
            raise found
        # As in Prometheus, every series the query returns is an active alert.
        return [Candidate(s.labels, s.value, float("nan"), True) for s in found]
    data = StoreData(
        session,
        check_labels=check_labels(config),
        keep_raw=config.metrics.keep_raw,
        catalog=catalog or SeriesCatalog(),
    )
    return candidates(rule.expr.tree, data, now)


def alert_labels(rule: RuleConfig, series: Mapping[str, str]) -> dict[str, str]:
    labels = {**series, **rule.labels}
    if rule.severity is not None:
        labels["severity"] = rule.severity
    labels["alertname"] = rule.name
    return labels


def _annotations(rule: RuleConfig, candidate: Candidate) -> dict[str, str]:
    return {
        key: template.render(value=candidate.value, labels=candidate.labels)
        for key, template in rule.annotations.items()
    }


def _state_of(row: RuleSeriesState, previous_evaluation: datetime | None) -> SeriesState:
    return SeriesState(
        state=cast(RuleState, row.state),
        active_since=row.active_since,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        last_active_at=row.last_active_at,
        last_evaluated_at=previous_evaluation or row.last_evaluated_at,
    )


def _alert(
    rule: RuleConfig,
    row: RuleSeriesState,
    *,
    resolved: bool,
    now: datetime,
    ends_after: timedelta,
    generator_url: str,
) -> AlertInput:
    return AlertInput(
        labels=dict(row.alert_labels),
        annotations=dict(row.annotations),
        starts_at=row.fired_at,
        ends_at=(row.resolved_at or now) if resolved else now + ends_after,
        generator_url=generator_url,
        source=SOURCE,
    )


def apply_candidates(
    session: Session,
    *,
    rule: RuleConfig,
    found: Sequence[Candidate],
    now: datetime,
    sink: AlertSink,
    settings: RuleSettings,
    generator_url: str = "",
    duration_ms: float = 0.0,
) -> RuleEvaluation:
    """Step every series of ``rule`` and persist it; alerts go to ``sink`` in this transaction."""
    health = session.get(RuleHealth, rule.name)
    previous = health.last_evaluated_at if health is not None else None
    rows = {
        row.series_key: row
        for row in session.scalars(
            select(RuleSeriesState).where(RuleSeriesState.rule_name == rule.name)
        )
    }
    active = {series_key(c.labels): c for c in found if c.holds}
    timing = Timing(rule.for_, rule.keep_firing_for, settings.outage_tolerance)
    ends_after = VALIDITY_FACTOR * max(settings.resend_every, rule.every)
    alerts: list[AlertInput] = []
    changes: list[StateChange] = []
    for key in sorted(set(rows) | set(active)):
        row, candidate = rows.get(key), active.get(key)
        before = _state_of(row, previous) if row is not None else SeriesState()
        after, send = advance(before, "active" if candidate else "quiet", now=now, timing=timing)
        if row is None:
            assert candidate is not None
            row = RuleSeriesState(
                rule_name=rule.name,
                series_key=key,
                series_labels=dict(candidate.labels),
                alert_labels=alert_labels(rule, candidate.labels),
                annotations={},
            )
            session.add(row)
        value = candidate.value if candidate is not None else row.value
        if before.state != after.state:
            labels = dict(row.series_labels)
            changes.append(
                StateChange(rule.name, labels, before.state, after.state, now, value or 0.0)
            )
        if after.state == "inactive" or (
            after.state == "resolved"
            and after.resolved_at is not None
            and now - after.resolved_at >= KEEP_RESOLVED
        ):
            session.delete(row)
            continue
        new_labels = alert_labels(rule, row.series_labels)
        if after.state == "firing" and before.state == "firing" and new_labels != row.alert_labels:
            # The rule's labels changed on reload: the old alert ends, the new one fires.
            alerts.append(
                _alert(
                    rule,
                    row,
                    resolved=True,
                    now=now,
                    ends_after=ends_after,
                    generator_url=generator_url,
                )
            )
            send = "fire"
        row.alert_labels = new_labels
        if candidate is not None:
            row.value = candidate.value
            row.annotations = _annotations(rule, candidate)
        row.state = after.state
        row.active_since = after.active_since
        row.fired_at = after.fired_at
        row.resolved_at = after.resolved_at
        row.last_active_at = after.last_active_at
        row.last_evaluated_at = now
        resend_due = after.state == "firing" and (
            row.last_sent_at is None or now - row.last_sent_at >= settings.resend_every
        )
        if send == "fire" or send == "resolve" or resend_due:
            alerts.append(
                _alert(
                    rule,
                    row,
                    resolved=after.state == "resolved",
                    now=now,
                    ends_after=ends_after,
                    generator_url=generator_url,
                )
            )
            row.last_sent_at = now
    session.flush()
    if alerts:
        sink(session, alerts=alerts, now=now)
    _record_health(
        session,
        rule=rule,
        now=now,
        series=len(found),
        active=len(active),
        error=None,
        duration_ms=duration_ms,
    )
    return RuleEvaluation(rule.name, now, len(found), len(active), tuple(changes), len(alerts))


def _record_health(
    session: Session,
    *,
    rule: RuleConfig,
    now: datetime,
    series: int,
    active: int,
    error: str | None,
    duration_ms: float,
) -> None:
    health = session.get(RuleHealth, rule.name)
    if health is None:
        health = RuleHealth(rule_name=rule.name)
        session.add(health)
    health.definition = rule.definition()
    health.last_evaluated_at = now
    health.duration_ms = duration_ms
    health.series = series
    health.active = active
    health.last_error = error
    session.flush()


def evaluate_rule(
    session: Session,
    *,
    config: OpsbookConfig,
    rule: RuleConfig,
    now: datetime,
    sink: AlertSink,
    remote: Remote | None = None,
    catalog: SeriesCatalog | None = None,
) -> RuleEvaluation:
    """Evaluate ``rule`` now and persist the outcome.

    When the data cannot be read (Prometheus unreachable, two series matching one),
    nothing changes: no series moves, and the error is kept in the rule's health.
    """
    started = time.perf_counter()
    try:
        found = rule_candidates(
            session, config=config, rule=rule, now=now, remote=remote, catalog=catalog
        )
    except (EvaluationError, PrometheusError) as exc:
        log.warning("rules.evaluation_failed", rule=rule.name, error=str(exc))
        health = session.get(RuleHealth, rule.name)
        _record_health(
            session,
            rule=rule,
            now=now,
            series=health.series if health else 0,
            active=health.active if health else 0,
            error=str(exc),
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        return RuleEvaluation(rule.name, now, 0, 0, (), 0, str(exc))
    public = config.settings.public_url
    return apply_candidates(
        session,
        rule=rule,
        found=found,
        now=now,
        sink=sink,
        settings=config.settings.rules,
        generator_url=f"{public.rstrip('/')}/api/v1/rules/{rule.name}" if public else "",
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def retire_removed_rules(
    session: Session, *, configured: set[str], now: datetime, sink: AlertSink
) -> list[str]:
    """Resolve the firing alerts of rules no longer in opsbook.yaml, and forget them."""
    known = set(session.scalars(select(RuleHealth.rule_name)))
    known |= set(session.scalars(select(RuleSeriesState.rule_name).distinct()))
    removed = sorted(known - configured)
    if not removed:
        return []
    firing = list(
        session.scalars(
            select(RuleSeriesState).where(
                RuleSeriesState.rule_name.in_(removed), RuleSeriesState.state == "firing"
            )
        )
    )
    if firing:
        sink(
            session,
            alerts=[
                AlertInput(
                    labels=dict(row.alert_labels),
                    annotations=dict(row.annotations),
                    starts_at=row.fired_at,
                    ends_at=now,
                    source=SOURCE,
                )
                for row in firing
            ],
            now=now,
        )
    session.execute(delete(RuleSeriesState).where(RuleSeriesState.rule_name.in_(removed)))
    session.execute(delete(RuleHealth).where(RuleHealth.rule_name.in_(removed)))
    log.info("rules.retired", rules=removed, resolved=len(firing))
    return removed
