from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from incidents_support import jobs_by_key, kinds, open_one

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner


def test_a_new_worker_picks_up_targets_scheduled_before_the_restart(
    db: Database, clock: FakeClock, config: OpsbookConfig, make_runner: Callable[..., JobRunner]
) -> None:
    incident = open_one(db, clock, config, severity="P1")
    first = make_runner("worker-before")
    clock.advance(timedelta(minutes=10))
    # Only the opening's target deliveries are due yet; the response targets are not.
    assert {o.kind for o in first.run_due()} <= {
        "incidents.target.oncall",
        "incidents.target.status_page",
    }
    del first  # the process dies; only the rows remain
    response_targets = [
        job.status
        for job in jobs_by_key(db).values()
        if not job.kind.startswith("incidents.target.")
    ]
    assert set(response_targets) == {"pending"}
    clock.advance(timedelta(hours=1))
    outcomes = make_runner("worker-after").run_until_idle()
    assert {o.status for o in outcomes} == {"done"}
    assert "response_breached" in kinds(db, incident.id)
    assert "escalated" in kinds(db, incident.id)
