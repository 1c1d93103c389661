"""Job handlers of the alerts domain; every one is a row in the jobs table.

(Group flushes are not jobs: their timers are the groups' own rows, served by
:mod:`opsbook.alerts.flusher`.)

- ``alerts.incident`` (intake, the sweep, re-evaluations):
  :func:`opsbook.alerts.incident_routes.handle`;
- ``alerts.sweep`` (itself, every 10 s): resolves alerts whose ``ends_at`` passed;
- ``alerts.reevaluate`` (a silence ending, an inhibiting alert resolving): looks again
  at muted alerts;
- ``alerts.prune`` (itself, hourly): deletes resolved alerts past ``keep_resolved``, and
  notify groups empty and idle for an hour;
- ``alerts.reroute`` (a config reload, a worker's start): routes open alerts again,
  :mod:`opsbook.alerts.reroute`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from opsbook.alerts import incident_routes
from opsbook.alerts.ingest import INCIDENT_JOB, REEVALUATE_JOB
from opsbook.alerts.reroute import REROUTE_JOB, reroute, schedule_reroute
from opsbook.alerts.routing import routing_tree
from opsbook.alerts.sweep import (
    PRUNE_EVERY,
    PRUNE_JOB,
    SWEEP_EVERY,
    SWEEP_JOB,
    prune,
    prune_groups,
    reevaluate,
    schedule_next,
    sweep,
)
from opsbook.config.schema import OpsbookConfig
from opsbook.core.jobs import JobContext, JobRegistry
from opsbook.core.models import Job

ConfigSource = Callable[[], OpsbookConfig]
# Finished incident and sweep jobs are many and tell nothing the alerts, incidents and
# the outbox do not: they go after this long.
KEEP_FINISHED = 3600


def register_alert_jobs(
    registry: JobRegistry, *, config: ConfigSource, external_url: Callable[[], str]
) -> None:
    def run_incident(ctx: JobContext) -> None:
        incident_routes.handle(
            ctx.session,
            config=config(),
            alert_id=int(ctx.job.payload["alert_id"]),
            event=str(ctx.job.payload["event"]),
            now=ctx.now,
        )

    def run_sweep(ctx: JobContext) -> None:
        sweep(ctx.session, tree=routing_tree(config().alerts), now=ctx.now)
        schedule_next(ctx.session, kind=SWEEP_JOB, every=SWEEP_EVERY, now=ctx.now)

    def run_reevaluate(ctx: JobContext) -> None:
        reevaluate(
            ctx.session,
            tree=routing_tree(config().alerts),
            matchers=list(ctx.job.payload.get("matchers") or []),
            now=ctx.now,
        )

    def run_prune(ctx: JobContext) -> None:
        prune(ctx.session, keep=config().alerts.keep_resolved, now=ctx.now)
        prune_groups(ctx.session, now=ctx.now)
        prune_jobs(ctx.session, now=ctx.now)
        schedule_next(ctx.session, kind=PRUNE_JOB, every=PRUNE_EVERY, now=ctx.now)

    def run_reroute(ctx: JobContext) -> None:
        reroute(ctx.session, tree=routing_tree(config().alerts), now=ctx.now)

    registry.register(INCIDENT_JOB, run_incident)
    registry.register(REROUTE_JOB, run_reroute)
    registry.register(SWEEP_JOB, run_sweep)
    registry.register(REEVALUATE_JOB, run_reevaluate)
    registry.register(PRUNE_JOB, run_prune)


def prune_jobs(session: Session, *, now: datetime) -> None:
    from datetime import timedelta

    session.execute(
        delete(Job).where(
            Job.kind.in_((INCIDENT_JOB, SWEEP_JOB, REEVALUATE_JOB, REROUTE_JOB)),
            Job.status == "done",
            Job.finished_at < now - timedelta(seconds=KEEP_FINISHED),
        )
    )


def schedule_alert_jobs(session: Session, *, now: datetime) -> None:
    """Book the recurring jobs (a worker does this when it starts; repeats are harmless)."""
    schedule_next(session, kind=SWEEP_JOB, every=SWEEP_EVERY, now=now)
    schedule_next(session, kind=PRUNE_JOB, every=PRUNE_EVERY, now=now)
    schedule_reroute(session, now=now)  # the config may have changed while none ran
