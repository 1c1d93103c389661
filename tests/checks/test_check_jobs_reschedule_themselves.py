from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from opsbook.checks.heartbeat.config import HeartbeatCheckConfig
from opsbook.checks.heartbeat.service import HeartbeatCheck
from opsbook.checks.jobs import (
    HEARTBEATS_KIND,
    PRUNE_KIND,
    register_check_jobs,
    schedule_check_jobs,
)
from opsbook.checks.service import list_states
from opsbook.checks.state import Transition
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRegistry, JobRunner
from opsbook.core.models import Job


def test_heartbeats_are_evaluated_every_minute_and_prune_runs_hourly(
    db: Database, clock: FakeClock
) -> None:
    config = HeartbeatCheckConfig(key="k" * 20, period="5m", grace="1m")
    seen: list[Transition] = []
    registry = JobRegistry()
    register_check_jobs(
        registry,
        heartbeat_checks=lambda: [HeartbeatCheck("backup", config, fail_after=2)],
        on_transition=seen.append,
    )
    runner = JobRunner(db=db, registry=registry, clock=clock, worker_id="w")
    with db.session() as session, session.begin():
        schedule_check_jobs(session, now=clock.now())
        schedule_check_jobs(session, now=clock.now())  # twice is harmless: keyed per slot

    outcomes = []
    for _ in range(70):
        clock.advance(timedelta(minutes=1))
        outcomes += runner.run_until_idle()
    kinds = [o.kind for o in outcomes if o.status == "done"]
    assert kinds.count(HEARTBEATS_KIND) == 70
    assert kinds.count(PRUNE_KIND) == 1
    # Watched from 09:01, due by 09:07 (5m + 1m grace); 09:08 and 09:09 fail: down.
    assert [(t.from_status, t.to_status) for t in seen] == [("unknown", "up"), ("up", "down")]
    assert seen[1].at - seen[0].at == timedelta(minutes=8)
    with db.read_session() as session:
        [state] = list_states(session)
        pending = session.scalars(select(Job.kind).where(Job.status == "pending")).all()
    assert state.status == "down"
    assert sorted(pending) == [HEARTBEATS_KIND, PRUNE_KIND]
