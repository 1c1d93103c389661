"""Due jobs share a transaction in groups: one commit for many, yet each job's effects
land exactly once, a failing job rolls back alone, and a failed commit loses nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, select, update

from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobContext, JobRegistry, JobRunner, schedule
from opsbook.core.models import Job


def _runner(db: Database, clock: FakeClock, registry: JobRegistry, **kwargs: Any) -> JobRunner:
    return JobRunner(
        db=db,
        registry=registry,
        clock=clock,
        worker_id="w1",
        lease=timedelta(seconds=30),
        backoff_base=timedelta(seconds=10),
        **kwargs,
    )


def _leave_a_mark(ctx: JobContext) -> None:
    """The job's effect: a row of its own, written in the job's transaction."""
    schedule(
        ctx.session,
        kind="mark",
        key=f"mark:{ctx.job.key}",
        run_at=ctx.now + timedelta(days=1),
        now=ctx.now,
    )


def _schedule(db: Database, clock: FakeClock, keys: list[str], kind: str = "work") -> None:
    with db.session() as session, session.begin():
        for key in keys:
            schedule(session, kind=kind, key=key, run_at=clock.now(), now=clock.now())


def _status(db: Database) -> dict[str, str]:
    with db.read_session() as session:
        return {job.key: job.status for job in session.scalars(select(Job))}


def test_jobs_of_one_group_commit_together(db: Database, clock: FakeClock) -> None:
    registry = JobRegistry()
    registry.register("work", _leave_a_mark)
    commits: list[object] = []
    event.listen(db.engine, "commit", commits.append)  # real COMMITs, not savepoints
    _schedule(db, clock, [f"w{n}" for n in range(5)])
    commits.clear()

    outcomes = _runner(db, clock, registry).run_due()

    assert [o.status for o in outcomes] == ["done"] * 5
    assert len(commits) == 2  # the claim, then one transaction for all five jobs
    status = _status(db)
    assert all(status[f"w{n}"] == "done" and status[f"mark:w{n}"] == "pending" for n in range(5))


def test_a_job_that_raises_rolls_back_alone_and_is_retried(db: Database, clock: FakeClock) -> None:
    def work(ctx: JobContext) -> None:
        _leave_a_mark(ctx)
        if ctx.job.key == "w2":
            raise RuntimeError("the receiver of this one is broken")

    registry = JobRegistry()
    registry.register("work", work)
    _schedule(db, clock, ["w1", "w2", "w3"])

    outcomes = {o.job_id: o.status for o in _runner(db, clock, registry).run_due()}

    status = _status(db)
    assert sorted(outcomes.values()) == ["done", "done", "retry"]
    assert (status["w1"], status["w2"], status["w3"]) == ("done", "pending", "done")
    assert "mark:w2" not in status  # its effect went with its savepoint
    assert status["mark:w1"] == status["mark:w3"] == "pending"


def test_a_job_whose_claim_was_taken_over_rolls_back_alone(db: Database, clock: FakeClock) -> None:
    registry = JobRegistry()
    registry.register("work", _leave_a_mark)
    _schedule(db, clock, ["w1", "w2", "w3"])
    runner = _runner(db, clock, registry)
    claimed = runner.claim()
    with db.session() as session, session.begin():  # its lease expired; another worker has it
        session.execute(update(Job).where(Job.key == "w2").values(lease_owner="w2-thief"))

    outcomes = {o.job_id: o.status for o in runner.run_batch(claimed)}

    assert sorted(outcomes.values()) == ["done", "done", "lost"]
    status = _status(db)
    assert status["w2"] == "running"  # the thief's to finish
    assert "mark:w2" not in status
    assert status["mark:w1"] == status["mark:w3"] == "pending"


def test_a_failed_group_commit_lands_nothing_then_each_job_runs_once_on_its_own(
    db: Database, clock: FakeClock
) -> None:
    runs: list[str] = []

    def work(ctx: JobContext) -> None:
        runs.append(ctx.job.key)
        _leave_a_mark(ctx)
        if ctx.job.key == "w2" and runs.count("w2") == 1:

            def refuse(session: Any) -> None:
                if not session.in_nested_transaction():  # the group's COMMIT, not a savepoint
                    raise RuntimeError("the database went away at COMMIT")

            event.listen(ctx.session, "before_commit", refuse)

    registry = JobRegistry()
    registry.register("work", work)
    _schedule(db, clock, ["w1", "w2", "w3"])

    outcomes = _runner(db, clock, registry).run_due()

    assert [o.status for o in outcomes] == ["done"] * 3
    assert runs == ["w1", "w2", "w3", "w1", "w2", "w3"]  # the group, then one by one
    with db.read_session() as session:
        marks = session.scalars(select(Job.key).where(Job.kind == "mark")).all()
    assert sorted(marks) == ["mark:w1", "mark:w2", "mark:w3"]  # each effect exactly once


def test_a_group_stops_growing_at_its_size(db: Database, clock: FakeClock) -> None:
    registry = JobRegistry()
    registry.register("work", _leave_a_mark)
    commits: list[object] = []
    event.listen(db.engine, "commit", commits.append)  # real COMMITs, not savepoints
    _schedule(db, clock, [f"w{n}" for n in range(5)])
    commits.clear()

    outcomes = _runner(db, clock, registry, group_size=2).run_due()

    assert [o.status for o in outcomes] == ["done"] * 5
    assert len(commits) == 1 + 3  # the claim, then groups of 2, 2 and 1
