"""Durable jobs: every deadline a person depends on is a row, never only a timer.

Schedule a job inside the transaction that makes it necessary::

    schedule(session, kind="incident.ack_timeout", key=f"ack-timeout:{incident.id}",
             run_at=now + timedelta(minutes=5), payload={"incident_id": incident.id}, now=now)

A worker claims due jobs (see :mod:`opsbook.core.leases`) and runs the handler
registered for the kind.  The handler's database work and the job's completion commit
in one transaction, conditional on the worker still holding its claim: a job's effects
land exactly once even when workers crash mid-run and leases expire.  A handler that
raises is retried with capped exponential backoff and, after ``max_attempts``, parked
as ``dead`` with its error for a person to look at (``opsbook jobs list --status dead``).
"""

from __future__ import annotations

import functools
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbook.core import wakeup
from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.core.leases import backoff_delay, claim_due, park_exhausted, still_held
from opsbook.core.models import Job

log = structlog.get_logger(__name__)

# The table itself, for the statements built once (Core: no ORM bookkeeping per job).
_JOBS = cast(Table, Job.__table__)

JOB_STATUSES = ("pending", "running", "done", "dead", "cancelled")
DEFAULT_MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    run_at: datetime

    @classmethod
    def of(cls, job: Job) -> JobSnapshot:
        return cls(
            id=job.id,
            kind=job.kind,
            key=job.key,
            payload=dict(job.payload or {}),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            run_at=job.run_at,
        )


@dataclass
class JobContext:
    """What a handler gets: the job, an open transaction, and the time."""

    job: JobSnapshot
    session: Session
    now: datetime
    clock: Clock
    services: Any = None


JobHandler = Callable[[JobContext], None]


class RetryLater(Exception):
    """Raise from a handler to be run again after ``delay`` without it counting as an error."""

    def __init__(self, delay: timedelta, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay}")
        self.delay = delay


class PermanentJobError(Exception):
    """Raise from a handler when retrying cannot help; the job is parked as dead at once."""


class UnknownJobKind(LookupError):
    pass


@dataclass
class JobRegistry:
    """Maps a job kind to its handler; each domain registers its kinds at start-up."""

    _handlers: dict[str, JobHandler] = field(default_factory=dict)
    _fallbacks: dict[str, JobHandler] = field(default_factory=dict)

    def register(self, kind: str, handler: JobHandler) -> None:
        if kind in self._handlers and self._handlers[kind] is not handler:
            raise ValueError(f"job kind {kind!r} is already registered")
        self._handlers[kind] = handler

    def register_fallback(self, kind: str, handler: JobHandler) -> None:
        """Handle ``kind`` with ``handler`` unless a domain registers a real handler for it.

        A domain that emits work for another domain to do (incidents hand ``oncall:``
        targets to on-call) registers a fallback, so the work is recorded rather than
        parked as an unknown kind when the other domain is absent.
        """
        self._fallbacks.setdefault(kind, handler)

    def handler(self, kind: str) -> Callable[[JobHandler], JobHandler]:
        def decorate(func: JobHandler) -> JobHandler:
            self.register(kind, func)
            return func

        return decorate

    def get(self, kind: str) -> JobHandler:
        handler = self._handlers.get(kind) or self._fallbacks.get(kind)
        if handler is None:
            raise UnknownJobKind(f"no handler registered for job kind {kind!r}")
        return handler

    def kinds(self) -> list[str]:
        return sorted(self._handlers.keys() | self._fallbacks.keys())


@functools.cache
def _schedule_statement(dialect: str, *, replace: bool) -> Any:
    """The INSERT behind :func:`schedule`, built once: a burst of steps schedules thousands."""
    table = _JOBS
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    if replace:
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "run_at": stmt.excluded.run_at,
                "payload": stmt.excluded.payload,
                "updated_at": stmt.excluded.updated_at,
            },
            where=table.c.status == "pending",
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[table.c.key])
    return stmt.returning(table.c.id)


def schedule(
    session: Session,
    *,
    kind: str,
    run_at: datetime,
    now: datetime,
    key: str | None = None,
    payload: dict[str, Any] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    replace: bool = False,
) -> bool:
    """Add a job unless one with ``key`` exists; returns whether a row was written.

    With ``replace=True`` a still-pending job of that key is moved to the new
    ``run_at`` and ``payload`` instead (a finished one is left alone).
    """
    values = {
        "kind": kind,
        "key": key or f"{kind}:{uuid.uuid4().hex}",
        "payload": payload or {},
        "status": "pending",
        "run_at": run_at,
        "attempts": 0,
        "max_attempts": max_attempts,
        "created_at": now,
        "updated_at": now,
    }
    stmt = _schedule_statement(session.get_bind().dialect.name, replace=replace)
    written = session.execute(stmt, values).first() is not None
    if written:
        wakeup.mark(session, due=run_at if run_at > now else None)
    return written


def cancel(session: Session, *, key: str, now: datetime) -> bool:
    """Cancel the pending job with ``key`` (e.g. an ack timeout once acknowledged)."""
    result = session.execute(
        update(Job)
        .where(Job.key == key, Job.status == "pending")
        .values(status="cancelled", finished_at=now, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def cancel_prefixed(session: Session, *, prefix: str, now: datetime) -> int:
    """Cancel every pending job whose key starts with ``prefix``; returns how many.

    ``prefix`` is matched literally (``%`` and ``_`` in it are escaped).
    """
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    result = session.execute(
        update(Job)
        .where(Job.status == "pending", Job.key.like(pattern, escape="\\"))
        .values(status="cancelled", finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def retry_dead(session: Session, *, job_id: int, now: datetime) -> bool:
    """Give a dead job a fresh set of attempts (``opsbook jobs retry``)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "dead")
        .values(status="pending", run_at=now, attempts=0, updated_at=now, finished_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class JobOutcome:
    job_id: int
    kind: str
    status: str  # done | retry | dead | lost
    error: str | None = None


@dataclass
class JobRunner:
    """Claims and runs due jobs; one per worker process."""

    db: Database
    registry: JobRegistry
    clock: Clock
    worker_id: str
    lease: timedelta = timedelta(seconds=60)
    backoff_base: timedelta = timedelta(seconds=10)
    backoff_cap: timedelta = timedelta(hours=1)
    batch_size: int = 20
    services: Any = None
    # Jobs that share one transaction, and how long a group may keep adding jobs.
    group_size: int = 20
    group_budget: timedelta = timedelta(milliseconds=100)

    def claim(self) -> list[JobSnapshot]:
        now = self.clock.now()
        with self.db.session() as session, session.begin():
            park_exhausted(
                session,
                Job,
                active_status="running",
                now=now,
                extra_values={"finished_at": now, "updated_at": now},
            )
            jobs = claim_due(
                session,
                Job,
                due_column=Job.run_at,
                active_status="running",
                worker_id=self.worker_id,
                now=now,
                lease=self.lease,
                limit=self.batch_size,
                extra_values={"updated_at": now},
            )
            return [JobSnapshot.of(job) for job in jobs]

    def run_due(self) -> list[JobOutcome]:
        """Claim one batch of due jobs and run them; what tests call under a fake clock."""
        return self.run_batch(self.claim())

    def run_batch(self, claimed: list[JobSnapshot]) -> list[JobOutcome]:
        """Run jobs this runner claimed, in groups that share a transaction."""
        outcomes: list[JobOutcome] = []
        while claimed:
            ran, claimed = self._run_group(claimed)
            outcomes.extend(ran)
        return outcomes

    def run_until_idle(self, max_batches: int = 1000) -> list[JobOutcome]:
        outcomes: list[JobOutcome] = []
        for _ in range(max_batches):
            batch = self.run_due()
            if not batch:
                break
            outcomes.extend(batch)
        return outcomes

    def run(self, job: JobSnapshot) -> JobOutcome:
        """Run one claimed job in a transaction of its own."""
        try:
            with self.db.session() as session, session.begin():
                self._execute(session, job, now=self.clock.now())
        except Exception as exc:
            return self._failed(job, exc)
        log.debug("job.done", job_id=job.id, kind=job.kind, attempt=job.attempts)
        return JobOutcome(job.id, job.kind, "done")

    def _run_group(self, claimed: list[JobSnapshot]) -> tuple[list[JobOutcome], list[JobSnapshot]]:
        """Run the first claimed jobs in one transaction, each in a savepoint of its own.

        One commit for many jobs (on PostgreSQL each commit waits for its WAL flush) is
        what lets a burst of escalation steps keep up.  A job that raises, or whose claim
        was taken over, rolls back to its savepoint alone and is retried or parked as
        before; the others commit together.  If the group's commit fails, nothing of it
        landed: each job is then run again on its own.  A group stops growing after
        ``group_size`` jobs or ``group_budget``, so it never holds the write lock (on
        SQLite) or its row locks for long.  Returns the outcomes and the jobs left.
        """
        started = time.monotonic()
        budget = self.group_budget.total_seconds()
        done: list[JobSnapshot] = []
        failed: dict[int, Exception] = {}
        taken = 0
        try:
            with self.db.session() as session, session.begin():
                for job in claimed:
                    if taken >= max(1, self.group_size) or (
                        taken and time.monotonic() - started >= budget
                    ):
                        break
                    taken += 1
                    try:
                        with session.begin_nested():
                            self._execute(session, job, now=self.clock.now())
                    except Exception as exc:
                        failed[job.id] = exc
                    else:
                        done.append(job)
                    # The next job reads afresh, as it would in a transaction of its own.
                    session.expunge_all()
        except Exception as exc:
            log.warning("job.group_failed", jobs=taken, error=f"{type(exc).__name__}: {exc}")
            return [self.run(job) for job in claimed[:taken]], claimed[taken:]
        outcomes = []
        for job in claimed[:taken]:
            if job.id in failed:
                outcomes.append(self._failed(job, failed[job.id]))
            else:
                log.debug("job.done", job_id=job.id, kind=job.kind, attempt=job.attempts)
                outcomes.append(JobOutcome(job.id, job.kind, "done"))
        return outcomes, claimed[taken:]

    def _execute(self, session: Session, job: JobSnapshot, *, now: datetime) -> None:
        """The handler's work and the job's completion, conditional on the claim."""
        handler = self.registry.get(job.kind)
        handler(JobContext(job, session, now, self.clock, self.services))
        session.flush()  # the handler's writes fail here, inside the job's savepoint
        finished = self.clock.now()
        done = session.execute(
            _COMPLETE,
            {
                "claimed_id": job.id,
                "claimed_by": self.worker_id,
                "claimed_attempts": job.attempts,
                "finished": finished,
            },
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise _LeaseLost

    def _held(self, job: JobSnapshot) -> Any:
        return still_held(Job, row_id=job.id, worker_id=self.worker_id, attempts=job.attempts)

    def _failed(self, job: JobSnapshot, exc: Exception) -> JobOutcome:
        """Record why a job did not finish: lost, retried later, or parked as dead."""
        held = self._held(job)
        if isinstance(exc, _LeaseLost):
            log.warning("job.lease_lost", job_id=job.id, kind=job.kind)
            return JobOutcome(job.id, job.kind, "lost", "lease lost; another worker owns the job")
        if isinstance(exc, RetryLater):
            return self._reschedule(job, held, delay=exc.delay, error=None, count_attempt=False)
        if isinstance(exc, PermanentJobError | UnknownJobKind):
            return self._park(job, held, error=f"{type(exc).__name__}: {exc}")
        error = "".join(traceback.format_exception_only(exc)).strip()
        if job.attempts >= job.max_attempts:
            return self._park(job, held, error=error)
        delay = backoff_delay(job.attempts, base=self.backoff_base, cap=self.backoff_cap)
        log.warning("job.failed", job_id=job.id, kind=job.kind, attempt=job.attempts, error=error)
        return self._reschedule(job, held, delay=delay, error=error, count_attempt=True)

    def _reschedule(
        self,
        job: JobSnapshot,
        held: Any,
        *,
        delay: timedelta,
        error: str | None,
        count_attempt: bool,
    ) -> JobOutcome:
        now = self.clock.now()
        values: dict[str, Any] = {
            "status": "pending",
            "run_at": now + delay,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
        }
        if error is not None:
            values["last_error"] = error
        if not count_attempt:
            values["attempts"] = Job.attempts - 1
        with self.db.session() as session, session.begin():
            session.execute(update(Job).where(held).values(**values))
        return JobOutcome(job.id, job.kind, "retry", error)

    def _park(self, job: JobSnapshot, held: Any, *, error: str) -> JobOutcome:
        now = self.clock.now()
        with self.db.session() as session, session.begin():
            session.execute(
                update(Job)
                .where(held)
                .values(
                    status="dead",
                    last_error=error,
                    finished_at=now,
                    updated_at=now,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        log.error("job.dead", job_id=job.id, kind=job.kind, attempts=job.attempts, error=error)
        return JobOutcome(job.id, job.kind, "dead", error)


class _LeaseLost(Exception):
    pass


# A job's completion, conditional on still holding its claim (as leases.still_held).
_COMPLETE = (
    update(_JOBS)
    .where(
        _JOBS.c.id == bindparam("claimed_id"),
        _JOBS.c.lease_owner == bindparam("claimed_by"),
        _JOBS.c.attempts == bindparam("claimed_attempts"),
        _JOBS.c.status == "running",
    )
    .values(
        status="done",
        finished_at=bindparam("finished"),
        updated_at=bindparam("finished"),
        lease_owner=None,
        lease_expires_at=None,
        last_error=None,
    )
)


def list_jobs(
    session: Session, *, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[Job]:
    stmt = select(Job).order_by(Job.run_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(Job.status == status)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    return list(session.scalars(stmt))
