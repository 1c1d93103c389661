"""Durable jobs: scheduling is idempotent, retries back off, dead jobs are parked."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import (
    JobContext,
    JobRegistry,
    JobRunner,
    PermanentJobError,
    RetryLater,
    cancel,
    retry_dead,
    schedule,
)
from opsbook.core.models import Job


def _runner(db: Database, clock: FakeClock, registry: JobRegistry, worker: str = "w1") -> JobRunner:
    return JobRunner(
        db=db,
        registry=registry,
        clock=clock,
        worker_id=worker,
        lease=timedelta(seconds=30),
        backoff_base=timedelta(seconds=10),
        backoff_cap=timedelta(seconds=60),
    )


def _job(db: Database, key: str) -> Job:
    with db.session() as session:
        job = session.scalars(select(Job).where(Job.key == key)).one()
        session.expunge(job)
        return job


def test_scheduling_the_same_key_twice_writes_one_job(db: Database, clock: FakeClock) -> None:
    with db.session() as session, session.begin():
        first = schedule(session, kind="k", key="once", run_at=clock.now(), now=clock.now())
        second = schedule(session, kind="k", key="once", run_at=clock.now(), now=clock.now())
    with db.session() as session:
        count = len(session.scalars(select(Job)).all())
    assert (first, second, count) == (True, False, 1)


def test_a_job_runs_only_once_its_time_has_come(db: Database, clock: FakeClock) -> None:
    ran: list[dict[str, object]] = []
    registry = JobRegistry()
    registry.register("remind", lambda ctx: ran.append(ctx.job.payload))
    with db.session() as session, session.begin():
        schedule(
            session,
            kind="remind",
            key="r1",
            run_at=clock.now() + timedelta(minutes=5),
            payload={"incident": 7},
            now=clock.now(),
        )
    runner = _runner(db, clock, registry)
    assert runner.run_due() == []
    clock.advance(timedelta(minutes=5))
    outcomes = runner.run_due()
    assert [o.status for o in outcomes] == ["done"]
    assert ran == [{"incident": 7}]
    assert _job(db, "r1").status == "done"
    assert runner.run_due() == []


def test_handler_writes_commit_with_completion_and_roll_back_on_error(
    db: Database, clock: FakeClock
) -> None:
    registry = JobRegistry()

    def handler(ctx: JobContext) -> None:
        schedule(
            ctx.session, kind="child", key="child-of-" + ctx.job.key, run_at=ctx.now, now=ctx.now
        )
        if ctx.job.payload.get("fail"):
            raise RuntimeError("boom")

    registry.register("parent", handler)
    registry.register("child", lambda ctx: None)
    with db.session() as session, session.begin():
        schedule(session, kind="parent", key="ok", run_at=clock.now(), now=clock.now())
        schedule(
            session,
            kind="parent",
            key="bad",
            run_at=clock.now(),
            payload={"fail": 1},
            now=clock.now(),
        )
    _runner(db, clock, registry).run_due()
    with db.session() as session:
        keys = set(session.scalars(select(Job.key)))
    assert "child-of-ok" in keys
    assert "child-of-bad" not in keys


def test_failures_back_off_exponentially_then_park_the_job_as_dead(
    db: Database, clock: FakeClock
) -> None:
    registry = JobRegistry()

    def always_fails(ctx: JobContext) -> None:
        raise ConnectionError("smtp down")

    registry.register("flaky", always_fails)
    with db.session() as session, session.begin():
        schedule(
            session, kind="flaky", key="f", run_at=clock.now(), now=clock.now(), max_attempts=4
        )
    runner = _runner(db, clock, registry)
    delays = []
    for _ in range(3):
        assert [o.status for o in runner.run_due()] == ["retry"]
        job = _job(db, "f")
        delays.append(job.run_at - clock.now())
        clock.set(job.run_at)
    assert delays == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]
    assert [o.status for o in runner.run_due()] == ["dead"]
    dead = _job(db, "f")
    assert dead.status == "dead"
    assert dead.last_error == "ConnectionError: smtp down"
    assert dead.attempts == 4

    with db.session() as session, session.begin():
        assert retry_dead(session, job_id=dead.id, now=clock.now())
    assert _job(db, "f").status == "pending"


def test_backoff_is_capped(db: Database, clock: FakeClock) -> None:
    registry = JobRegistry()
    registry.register("flaky", lambda ctx: (_ for _ in ()).throw(OSError("x")))
    with db.session() as session, session.begin():
        schedule(
            session, kind="flaky", key="f", run_at=clock.now(), now=clock.now(), max_attempts=9
        )
    runner = _runner(db, clock, registry)
    delays = []
    for _ in range(6):
        runner.run_due()
        run_at = _job(db, "f").run_at
        delays.append((run_at - clock.now()).total_seconds())
        clock.set(run_at)
    assert delays == [10, 20, 40, 60, 60, 60]


def test_permanent_errors_and_unknown_kinds_are_parked_at_once(
    db: Database, clock: FakeClock
) -> None:
    registry = JobRegistry()

    def hopeless(ctx: JobContext) -> None:
        raise PermanentJobError("incident 9 no longer exists")

    registry.register("hopeless", hopeless)
    with db.session() as session, session.begin():
        schedule(session, kind="hopeless", key="h", run_at=clock.now(), now=clock.now())
        schedule(session, kind="nobody-handles-this", key="u", run_at=clock.now(), now=clock.now())
    outcomes = {o.kind: o for o in _runner(db, clock, registry).run_due()}
    assert outcomes["hopeless"].status == "dead"
    assert outcomes["nobody-handles-this"].status == "dead"
    assert "no handler registered" in (_job(db, "u").last_error or "")


def test_retry_later_does_not_use_up_an_attempt(db: Database, clock: FakeClock) -> None:
    registry = JobRegistry()

    def waits(ctx: JobContext) -> None:
        raise RetryLater(timedelta(minutes=2))

    registry.register("waits", waits)
    with db.session() as session, session.begin():
        schedule(session, kind="waits", key="w", run_at=clock.now(), now=clock.now())
    _runner(db, clock, registry).run_due()
    job = _job(db, "w")
    assert (job.status, job.attempts, job.run_at) == (
        "pending",
        0,
        clock.now() + timedelta(minutes=2),
    )


def test_a_crashed_workers_lease_expires_and_another_worker_runs_the_job(
    db: Database, clock: FakeClock
) -> None:
    ran: list[str] = []
    registry = JobRegistry()
    registry.register("page", lambda ctx: ran.append(ctx.job.key))
    with db.session() as session, session.begin():
        schedule(session, kind="page", key="p", run_at=clock.now(), now=clock.now())
    crashed = _runner(db, clock, registry, worker="crashed")
    assert len(crashed.claim()) == 1  # claimed, then the process "dies"
    survivor = _runner(db, clock, registry, worker="survivor")
    assert survivor.run_due() == []  # the lease still holds
    clock.advance(timedelta(seconds=31))
    assert [o.status for o in survivor.run_due()] == ["done"]
    assert ran == ["p"]
    assert _job(db, "p").attempts == 2


def test_a_late_completion_by_the_crashed_worker_is_discarded(
    db: Database, clock: FakeClock
) -> None:
    ran: list[str] = []
    registry = JobRegistry()
    registry.register("page", lambda ctx: ran.append(ctx.job.key))
    with db.session() as session, session.begin():
        schedule(session, kind="page", key="p", run_at=clock.now(), now=clock.now())
    slow = _runner(db, clock, registry, worker="slow")
    [claimed] = slow.claim()
    clock.advance(timedelta(seconds=31))
    fast = _runner(db, clock, registry, worker="fast")
    assert [o.status for o in fast.run_due()] == ["done"]
    assert slow.run(claimed).status == "lost"
    assert ran == ["p", "p"]  # the handler ran twice, but only one run's effects committed
    assert _job(db, "p").lease_owner is None


def test_cancel_stops_a_pending_job(db: Database, clock: FakeClock) -> None:
    ran: list[str] = []
    registry = JobRegistry()
    registry.register("ack-timeout", lambda ctx: ran.append(ctx.job.key))
    with db.session() as session, session.begin():
        schedule(session, kind="ack-timeout", key="a", run_at=clock.now(), now=clock.now())
    with db.session() as session, session.begin():
        assert cancel(session, key="a", now=clock.now())
    assert _runner(db, clock, registry).run_due() == []
    assert ran == []
    assert _job(db, "a").status == "cancelled"


def test_a_job_whose_worker_dies_on_every_attempt_is_parked(db: Database, clock: FakeClock) -> None:
    registry = JobRegistry()
    registry.register("poison", lambda ctx: None)
    with db.session() as session, session.begin():
        schedule(
            session, kind="poison", key="p", run_at=clock.now(), now=clock.now(), max_attempts=2
        )
    for worker in ("a", "b"):
        assert len(_runner(db, clock, registry, worker=worker).claim()) == 1
        clock.advance(timedelta(seconds=31))
    assert _runner(db, clock, registry, worker="c").claim() == []
    job = _job(db, "p")
    assert job.status == "dead"
    assert "lease expired" in (job.last_error or "")
