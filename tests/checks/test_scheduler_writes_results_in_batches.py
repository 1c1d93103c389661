from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from checks_fakes import ScriptedCheck
from sqlalchemy import event, func, select

from opsbook.checks.models import CheckLease, CheckResultRecord, CheckTransitionRecord
from opsbook.checks.scheduler import Scheduler, next_fire
from opsbook.checks.state import Transition
from opsbook.core.clock import FakeClock, SystemClock
from opsbook.core.db import Database


def _stored(db: Database) -> int:
    with db.read_session() as session:
        return session.scalar(select(func.count()).select_from(CheckResultRecord)) or 0


async def _run_for(scheduler: Scheduler, clock: FakeClock, seconds: int) -> None:
    for _ in range(seconds):
        await scheduler.run_due(clock.advance(timedelta(seconds=1)))


def _statements_to_flush(db: Database, scheduler: Scheduler) -> int:
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        asyncio.run(scheduler.flush())
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return statements


def test_results_wait_in_memory_and_are_written_in_one_batch(
    db: Database, clock: FakeClock
) -> None:
    checks = [ScriptedCheck(f"c{i}") for i in range(50)]
    scheduler = Scheduler(db, clock, checks, leases=False)
    asyncio.run(_run_for(scheduler, clock, 60))
    assert _stored(db) == 0
    assert scheduler.stats().pending_results == 50
    asyncio.run(scheduler.flush())
    assert _stored(db) == 50
    stats = scheduler.stats()
    assert (stats.batches_written, stats.results_written, stats.pending_results) == (1, 50, 0)


def test_a_batch_costs_the_same_statements_whatever_its_size(
    db: Database, clock: FakeClock
) -> None:
    small = Scheduler(db, clock, [ScriptedCheck(f"s{i}") for i in range(5)], leases=False)
    large = Scheduler(db, clock, [ScriptedCheck(f"l{i}") for i in range(300)], leases=False)

    async def both() -> None:
        for _ in range(60):
            now = clock.advance(timedelta(seconds=1))
            await small.run_due(now)
            await large.run_due(now)

    asyncio.run(both())
    assert _statements_to_flush(db, small) == _statements_to_flush(db, large)
    assert _stored(db) == 305


def test_transitions_are_announced_after_their_batch_commits(
    db: Database, clock: FakeClock
) -> None:
    seen: list[tuple[Transition, int]] = []

    def on_transition(transition: Transition) -> None:
        # A fresh session sees the stored row: the batch has committed.
        with db.read_session() as session:
            stored = session.scalar(select(func.count()).select_from(CheckTransitionRecord))
        seen.append((transition, stored or 0))

    check = ScriptedCheck("api", outcomes=[True, False])
    scheduler = Scheduler(db, clock, [check], leases=False, on_transition=on_transition)
    asyncio.run(_run_for(scheduler, clock, 60))
    asyncio.run(scheduler.flush())
    asyncio.run(_run_for(scheduler, clock, 60))
    asyncio.run(scheduler.flush())
    assert [(t.from_status, t.to_status, stored) for t, stored in seen] == [
        ("unknown", "up", 1),
        ("up", "down", 2),
    ]


def test_a_failed_write_keeps_the_results_for_the_next_flush(
    db: Database, clock: FakeClock
) -> None:
    scheduler = Scheduler(db, clock, [ScriptedCheck("api")], leases=False)
    asyncio.run(_run_for(scheduler, clock, 60))

    def refuse(*_args: object) -> None:
        raise RuntimeError("database unreachable")

    event.listen(db.engine, "before_cursor_execute", refuse)
    try:
        assert asyncio.run(scheduler.flush()) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", refuse)
    assert scheduler.stats().write_errors == 1
    assert scheduler.stats().pending_results == 1
    asyncio.run(scheduler.flush())
    assert _stored(db) == 1


def test_start_lag_is_measured_against_the_fire_time(db: Database, clock: FakeClock) -> None:
    scheduler = Scheduler(db, clock, [ScriptedCheck("api")], leases=False)
    fire_time = next_fire("api", timedelta(seconds=60), at_or_after=clock.now())
    clock.set(fire_time + timedelta(milliseconds=300))  # the loop woke up late
    asyncio.run(scheduler.run_due(clock.now()))
    stats = scheduler.stats()
    assert stats.started == 1
    assert abs(stats.lag_p99 - 0.3) < 1e-6
    assert stats.lag_max == stats.lag_p99


def test_a_check_still_running_is_not_started_twice(db: Database, clock: FakeClock) -> None:
    hung = ScriptedCheck("slow", every=timedelta(seconds=10), hang=True)
    scheduler = Scheduler(db, clock, [hung], leases=False)

    async def scenario() -> None:
        first = scheduler.start_due(clock.advance(timedelta(seconds=10)))
        await asyncio.sleep(0)
        again = scheduler.start_due(clock.advance(timedelta(seconds=10)))
        assert (len(first), again) == (1, [])
        for task in first:
            task.cancel()
        await asyncio.gather(*first, return_exceptions=True)

    asyncio.run(scenario())
    assert scheduler.stats().skipped_overlapping == 1


def test_a_check_that_ignores_its_timeout_is_cut_off(db: Database, clock: FakeClock) -> None:
    hung = ScriptedCheck("hung", timeout=timedelta(0), hang=True)
    scheduler = Scheduler(db, clock, [hung], leases=False)
    asyncio.run(_run_for(scheduler, clock, 60))  # the guard allows timeout + 1 s
    asyncio.run(scheduler.flush())
    with db.read_session() as session:
        row = session.scalars(select(CheckResultRecord)).one()
    assert (row.ok, row.status, row.reason_code) == (False, "down", "timeout")


def test_run_schedules_writes_and_gives_back_its_leases(db: Database) -> None:
    # The loop itself, on the real clock: short intervals, stopped after a moment.
    checks = [ScriptedCheck(f"c{i}", every=timedelta(milliseconds=200)) for i in range(20)]
    scheduler = Scheduler(
        db, SystemClock(), checks, batch_interval=timedelta(milliseconds=100), owner="w1"
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(scheduler.run(stop))
        await asyncio.sleep(1.0)
        stop.set()
        await runner

    asyncio.run(scenario())
    stats = scheduler.stats()
    assert stats.started >= 20
    assert stats.results_written == stats.started
    assert _stored(db) == stats.started
    assert stats.lag_p99 < 0.25
    with db.read_session() as session:
        owners = set(session.scalars(select(CheckLease.owner)))
    assert owners == {None}  # released on stop: another worker may take them at once


def test_stopping_while_a_write_waits_for_a_thread_still_writes_it(db: Database) -> None:
    # A loaded process: the write of a batch is queued behind other threads' work when
    # the scheduler is told to stop. It must still be written, not dropped with its task.
    checks = [ScriptedCheck(f"c{i}", every=timedelta(milliseconds=100)) for i in range(5)]
    scheduler = Scheduler(
        db, SystemClock(), checks, batch_interval=timedelta(milliseconds=50), leases=False
    )
    release = threading.Event()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        stop = asyncio.Event()
        runner = asyncio.create_task(scheduler.run(stop))
        await asyncio.sleep(0.3)
        busy = loop.run_in_executor(None, release.wait, 5.0)  # the only thread, taken
        await asyncio.sleep(0.2)  # results pile up; the flush loop's write is queued
        stop.set()
        loop.call_later(0.2, release.set)
        await runner
        await busy

    asyncio.run(scenario())
    stats = scheduler.stats()
    assert stats.started >= 10
    assert stats.results_written == stats.started
    assert _stored(db) == stats.started
