from __future__ import annotations

import asyncio
from datetime import timedelta

from checks_fakes import ScriptedCheck, result
from sqlalchemy import select

from opsbook.checks.models import CheckResultRecord
from opsbook.checks.scheduler import Scheduler
from opsbook.checks.service import list_states, record_results
from opsbook.checks.state import Transition
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database


def _run_minute(scheduler: Scheduler, clock: FakeClock) -> list[Transition]:
    async def minute() -> list[Transition]:
        for _ in range(60):
            await scheduler.run_due(clock.advance(timedelta(seconds=1)))
        return await scheduler.flush()

    return asyncio.run(minute())


def _rows(db: Database, check: str) -> list[tuple[str, str | None]]:
    with db.read_session() as session:
        rows = session.scalars(
            select(CheckResultRecord)
            .where(CheckResultRecord.check_name == check)
            .order_by(CheckResultRecord.started_at)
        )
        return [(row.status, row.reason_code) for row in rows]


def test_failures_while_the_canary_fails_are_unknown_and_page_no_one(
    db: Database, clock: FakeClock
) -> None:
    canary = ScriptedCheck("canary", outcomes=[True, False, True])
    api = ScriptedCheck("api", outcomes=[True, False, False])
    scheduler = Scheduler(db, clock, [canary, api], leases=False, canary="canary")
    first = _run_minute(scheduler, clock)
    assert {(t.check, t.to_status) for t in first} == {("canary", "up"), ("api", "up")}

    # Opsbook's own network is down: the canary fails, and so does everything else.
    second = _run_minute(scheduler, clock)
    assert [(t.check, t.to_status) for t in sorted(second, key=lambda t: t.check)] == [
        ("api", "unknown"),
        ("canary", "down"),
    ]
    assert _rows(db, "api")[-1] == ("unknown", "canary")
    with db.read_session() as session:
        states = {s.check: s for s in list_states(session)}
    assert states["api"].consecutive_failures == 0  # an unknown is not a failure

    # The canary is back; api's failure is real now.
    third = _run_minute(scheduler, clock)
    assert {(t.check, t.to_status) for t in third} == {("canary", "up"), ("api", "down")}
    assert _rows(db, "api")[-1] == ("down", "status")


def test_the_stored_canary_state_counts_when_another_worker_runs_the_canary(
    db: Database, clock: FakeClock
) -> None:
    with db.session() as session, session.begin():
        record_results(session, results=[result("canary", clock.now(), ok=False)], now=clock.now())
    api = ScriptedCheck("api", outcomes=[False])
    scheduler = Scheduler(db, clock, [api], leases=False, canary="canary")
    _run_minute(scheduler, clock)
    assert _rows(db, "api") == [("unknown", "canary")]


def test_without_a_canary_failures_are_failures(db: Database, clock: FakeClock) -> None:
    scheduler = Scheduler(db, clock, [ScriptedCheck("api", outcomes=[False])], leases=False)
    _run_minute(scheduler, clock)
    assert _rows(db, "api") == [("down", "status")]
