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

import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbook.core import wakeup
from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.core.leases import backoff_delay, claim_due, park_exhausted, still_held
from opsbook.core.models import Job

log = structlog.get_logger(__name__)

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


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


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
    stmt = _insert(session)(Job).values(**values)
    if replace:
        stmt = stmt.on_conflict_do_update(
            index_elements=[Job.key],
            set_={"run_at": run_at, "payload": values["payload"], "updated_at": now},
            where=Job.status == "pending",
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[Job.key])
    written = session.execute(stmt.returning(Job.id)).first() is not None
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
        return [self.run(job) for job in self.claim()]

    def run_until_idle(self, max_batches: int = 1000) -> list[JobOutcome]:
        outcomes: list[JobOutcome] = []
        for _ in range(max_batches):
            batch = self.run_due()
            if not batch:
                break
            outcomes.extend(batch)
        return outcomes

    def run(self, job: JobSnapshot) -> JobOutcome:
        now = self.clock.now()
        held = still_held(Job, row_id=job.id, worker_id=self.worker_id, attempts=job.attempts)
        try:
            handler = self.registry.get(job.kind)
            with self.db.session() as session, session.begin():
                handler(JobContext(job, session, now, self.clock, self.services))
                done = session.execute(
                    update(Job)
                    .where(held, Job.status == "running")
                    .values(
                        status="done",
                        finished_at=self.clock.now(),
                        updated_at=self.clock.now(),
                        lease_owner=None,
                        lease_expires_at=None,
                        last_error=None,
                    )
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    raise _LeaseLost
            log.debug("job.done", job_id=job.id, kind=job.kind, attempt=job.attempts)
            return JobOutcome(job.id, job.kind, "done")
        except _LeaseLost:
            log.warning("job.lease_lost", job_id=job.id, kind=job.kind)
            return JobOutcome(job.id, job.kind, "lost", "lease lost; another worker owns the job")
        except RetryLater as exc:
            return self._reschedule(job, held, delay=exc.delay, error=None, count_attempt=False)
        except (PermanentJobError, UnknownJobKind) as exc:
            return self._park(job, held, error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            error = "".join(traceback.format_exception_only(exc)).strip()
            if job.attempts >= job.max_attempts:
                return self._park(job, held, error=error)
            delay = backoff_delay(job.attempts, base=self.backoff_base, cap=self.backoff_cap)
            log.warning(
                "job.failed", job_id=job.id, kind=job.kind, attempt=job.attempts, error=error
            )
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


def list_jobs(
    session: Session, *, status: str | None = None, kind: str | None = None, limit: int = 100
) -> list[Job]:
    stmt = select(Job).order_by(Job.run_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(Job.status == status)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    return list(session.scalars(stmt))
