"""Durable jobs of the metrics store: rollups every 5 minutes, retention every hour.

Each job books its own next run with a key per time slot (as the checks' jobs do)::

    register_metric_jobs(runtime.jobs, config=lambda: runtime.config)
    schedule_metric_jobs(session, now=clock.now())  # once at worker start
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from opsbook.config import OpsbookConfig
from opsbook.core.jobs import JobContext, JobRegistry, schedule
from opsbook.metrics.rollups import BUCKET, MAX_BUCKETS_PER_RUN, prune, roll_up

log = structlog.get_logger(__name__)

ROLLUP_KIND = "metrics.rollup"
PRUNE_KIND = "metrics.prune"
ROLLUP_EVERY = BUCKET
PRUNE_EVERY = timedelta(hours=1)
CATCH_UP_AFTER = timedelta(seconds=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def next_slot(now: datetime, every: timedelta) -> datetime:
    """The first multiple of ``every`` since the epoch after ``now``."""
    return _EPOCH + ((now - _EPOCH) // every + 1) * every


def _schedule(session: Session, kind: str, every: timedelta, now: datetime) -> None:
    slot = next_slot(now, every)
    schedule(session, kind=kind, key=f"{kind}:{slot.isoformat()}", run_at=slot, now=now)


def schedule_metric_jobs(session: Session, *, now: datetime) -> None:
    _schedule(session, ROLLUP_KIND, ROLLUP_EVERY, now)
    _schedule(session, PRUNE_KIND, PRUNE_EVERY, now)


def rollup_job(ctx: JobContext) -> None:
    done = roll_up(ctx.session, now=ctx.now)
    log.debug("metrics.rolled_up", **asdict(done))
    _schedule(ctx.session, ROLLUP_KIND, ROLLUP_EVERY, ctx.now)
    if done.buckets == MAX_BUCKETS_PER_RUN:
        # Behind (the workers were down): catch up in short steps rather than one long run.
        soon = ctx.now + CATCH_UP_AFTER
        schedule(
            ctx.session,
            kind=ROLLUP_KIND,
            key=f"{ROLLUP_KIND}:catch-up:{done.until_ms}",
            run_at=soon,
            now=ctx.now,
        )
        log.info("metrics.rollups_behind", until_ms=done.until_ms)


def make_prune_job(config: Callable[[], OpsbookConfig]) -> Callable[[JobContext], None]:
    def prune_job(ctx: JobContext) -> None:
        metrics = config().metrics
        pruned = prune(
            ctx.session, now=ctx.now, keep_raw=metrics.keep_raw, keep_rollups=metrics.keep_rollups
        )
        log.info("metrics.pruned", **asdict(pruned))
        _schedule(ctx.session, PRUNE_KIND, PRUNE_EVERY, ctx.now)

    return prune_job


def register_metric_jobs(registry: JobRegistry, *, config: Callable[[], OpsbookConfig]) -> None:
    registry.register(ROLLUP_KIND, rollup_job)
    registry.register(PRUNE_KIND, make_prune_job(config))
