"""Rule evaluation as durable, self-rescheduling jobs, one per evaluation interval.

Rules with the same ``every`` are evaluated together by one job per time slot, keyed
``rules.evaluate:<every ms>:<slot>``: however many workers (re)schedule it, one row per
slot exists, so each rule is evaluated once per slot across all workers, and a worker
that dies mid-evaluation leaves the slot to be claimed again (its effects rolled back).

Queries on Prometheus sources run first, before the job's transaction issues any
statement, so no transaction is held across network I/O::

    register_rule_jobs(runtime.jobs, config=lambda: runtime.config, sink=runtime.alert_sink)
    schedule_rule_jobs(session, rules=config.rules, now=clock.now())  # at worker start
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from opsbook.alerts.contract import AlertInput, AlertSink
from opsbook.alerts.rules.config import RuleConfig
from opsbook.alerts.rules.service import RuleEvaluation, evaluate_rule, retire_removed_rules
from opsbook.config import OpsbookConfig
from opsbook.core.jobs import JobContext, JobRegistry, schedule
from opsbook.metrics.jobs import next_slot
from opsbook.metrics.prometheus import PromQuery, run_queries
from opsbook.metrics.query import SeriesCatalog

log = structlog.get_logger(__name__)

EVALUATE_KIND = "rules.evaluate"
_MS = timedelta(milliseconds=1)


def schedule_evaluation(session: Session, *, every: timedelta, now: datetime) -> bool:
    slot = next_slot(now, every)
    every_ms = every // _MS
    return schedule(
        session,
        kind=EVALUATE_KIND,
        key=f"{EVALUATE_KIND}:{every_ms}:{slot.isoformat()}",
        run_at=slot,
        now=now,
        payload={"every_ms": every_ms},
    )


def schedule_rule_jobs(session: Session, *, rules: Sequence[RuleConfig], now: datetime) -> None:
    """Book the next slot of every evaluation interval in use (idempotent)."""
    for every in sorted({rule.every for rule in rules}):
        schedule_evaluation(session, every=every, now=now)


def log_only_sink(session: Session, *, alerts: Sequence[AlertInput], now: datetime) -> None:
    """The sink used until the alert pipeline is wired in: it records nothing, it logs."""
    for alert in alerts:
        log.info(
            "rules.alert",
            labels=dict(alert.labels),
            resolved=alert.is_resolved(now),
            ends_at=alert.ends_at.isoformat() if alert.ends_at else None,
        )


def evaluate_due(
    session: Session,
    *,
    config: OpsbookConfig,
    rules: Sequence[RuleConfig],
    now: datetime,
    sink: AlertSink,
) -> list[RuleEvaluation]:
    """Evaluate ``rules`` now, each in a savepoint: one broken rule does not stop the rest."""
    queries = {
        rule.name: PromQuery(source, rule.query)
        for rule in rules
        if rule.source is not None
        and rule.query is not None
        and (source := next((s for s in config.metrics.prometheus if s.name == rule.source), None))
    }
    answers = run_queries(list(queries.values()), at=now)
    remote = dict(zip(queries, answers, strict=True))
    results = []
    catalog = SeriesCatalog()
    for rule in rules:
        try:
            with session.begin_nested():
                results.append(
                    evaluate_rule(
                        session,
                        config=config,
                        rule=rule,
                        now=now,
                        sink=sink,
                        remote=remote,
                        catalog=catalog,
                    )
                )
        except Exception:
            # A bug, not bad data (evaluate_rule records those): the other rules still run.
            log.exception("rules.rule_failed", rule=rule.name)
    return results


def make_evaluate_job(
    config: Callable[[], OpsbookConfig], sink: AlertSink
) -> Callable[[JobContext], None]:
    def evaluate_job(ctx: JobContext) -> None:
        current = config()
        every = timedelta(milliseconds=int(ctx.job.payload["every_ms"]))
        rules = [rule for rule in current.rules if rule.every == every]
        results = evaluate_due(ctx.session, config=current, rules=rules, now=ctx.now, sink=sink)
        retire_removed_rules(
            ctx.session, configured={r.name for r in current.rules}, now=ctx.now, sink=sink
        )
        # Book this interval's next slot while rules use it, and any interval a reload added.
        schedule_rule_jobs(ctx.session, rules=current.rules, now=ctx.now)
        log.debug(
            "rules.evaluated",
            every=str(every),
            rules=len(results),
            changes=sum(len(r.changes) for r in results),
            sent=sum(r.sent for r in results),
        )

    return evaluate_job


def register_rule_jobs(
    registry: JobRegistry, *, config: Callable[[], OpsbookConfig], sink: AlertSink = log_only_sink
) -> None:
    """Register ``rules.evaluate``; ``config`` reads the live configuration."""
    registry.register(EVALUATE_KIND, make_evaluate_job(config, sink))
