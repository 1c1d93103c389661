"""Durable jobs of the checks domain: retention and heartbeat evaluation.

Each job books its own next run with a key per time slot, so however many workers
(re)schedule it, one row per slot exists and it runs once per slot::

    register_check_jobs(runtime.jobs, heartbeat_checks=lambda: ..., retention=lambda: ...)
    schedule_check_jobs(session, now=clock.now())  # once at worker start
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from opsbook.checks.heartbeat.service import HeartbeatCheck, evaluate
from opsbook.checks.service import (
    DEFAULT_KEEP_RAW,
    DEFAULT_KEEP_ROLLUPS,
    prune,
    record_results,
)
from opsbook.checks.state import Thresholds, Transition
from opsbook.core.jobs import JobContext, JobRegistry, schedule

log = structlog.get_logger(__name__)

PRUNE_KIND = "checks.prune"
HEARTBEATS_KIND = "checks.heartbeats"
PRUNE_EVERY = timedelta(hours=1)
HEARTBEATS_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Retention:
    keep_raw: timedelta = DEFAULT_KEEP_RAW
    keep_rollups: timedelta = DEFAULT_KEEP_ROLLUPS
    keep_minute_rollups: timedelta | None = None


def _next_slot(now: datetime, every: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=now.tzinfo)
    return epoch + ((now - epoch) // every + 1) * every


def schedule_prune(session: Session, *, now: datetime) -> None:
    slot = _next_slot(now, PRUNE_EVERY)
    schedule(session, kind=PRUNE_KIND, key=f"{PRUNE_KIND}:{slot.isoformat()}", run_at=slot, now=now)


def schedule_heartbeats(session: Session, *, now: datetime) -> None:
    slot = _next_slot(now, HEARTBEATS_EVERY)
    key = f"{HEARTBEATS_KIND}:{slot.isoformat()}"
    schedule(session, kind=HEARTBEATS_KIND, key=key, run_at=slot, now=now)


def schedule_check_jobs(session: Session, *, now: datetime) -> None:
    schedule_prune(session, now=now)
    schedule_heartbeats(session, now=now)


def make_prune_job(retention: Callable[[], Retention]) -> Callable[[JobContext], None]:
    def prune_job(ctx: JobContext) -> None:
        keep = retention()
        pruned = prune(
            ctx.session,
            now=ctx.now,
            keep_raw=keep.keep_raw,
            keep_rollups=keep.keep_rollups,
            keep_minute_rollups=keep.keep_minute_rollups,
        )
        log.info("checks.pruned", **asdict(pruned))
        schedule_prune(ctx.session, now=ctx.now)

    return prune_job


def make_heartbeats_job(
    checks: Callable[[], Sequence[HeartbeatCheck]],
    on_transition: Callable[[Transition], None] | None = None,
) -> Callable[[JobContext], None]:
    """Evaluate every heartbeat check and record the results like any check's.

    ``on_transition`` is called inside the job's transaction (the stored transition
    row is the durable record; the call is the in-process event).
    """

    def heartbeats_job(ctx: JobContext) -> None:
        configured = checks()
        results = evaluate(ctx.session, checks=configured, now=ctx.now)
        thresholds = {c.name: Thresholds(c.fail_after, c.recover_after) for c in configured}
        transitions = record_results(
            ctx.session, results=results, now=ctx.now, thresholds=thresholds
        )
        for transition in transitions:
            if on_transition is not None:
                on_transition(transition)
        schedule_heartbeats(ctx.session, now=ctx.now)

    return heartbeats_job


def register_check_jobs(
    registry: JobRegistry,
    *,
    heartbeat_checks: Callable[[], Sequence[HeartbeatCheck]],
    retention: Callable[[], Retention] = Retention,
    on_transition: Callable[[Transition], None] | None = None,
) -> None:
    """Register ``checks.prune`` and ``checks.heartbeats``; the callables read the live config."""
    registry.register(PRUNE_KIND, make_prune_job(retention))
    registry.register(HEARTBEATS_KIND, make_heartbeats_job(heartbeat_checks, on_transition))
