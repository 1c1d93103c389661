"""The worker: heartbeats, due jobs and outbox deliveries, drained on SIGTERM.

Two loops share the process: one runs rounds of due jobs, the other delivers the
outbox, so a page never waits for a long round of jobs.  After a round that queued
pages, the job loop lets one delivery round go first (a step is only as good as its
page).  Between rounds each loop waits for its :class:`~opsbook.core.wakeup.Wakeup`
topic: work committed in this process (or, on PostgreSQL, in any) wakes it at once,
and work due later wakes it when due; ``poll_interval`` is only the safety net.

Run as many workers as needed against one PostgreSQL: they share jobs and
deliveries through leases, so adding a process adds capacity and removing one (even
with ``kill -9``) loses nothing: its claims expire and another worker takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from opsbook.core.clock import Clock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.core.models import WorkerHeartbeat
from opsbook.core.wakeup import JOBS, OUTBOX, Wakeup

log = structlog.get_logger(__name__)

DeliveryRound = Callable[[], Awaitable[int]]
# A long-running part of the worker (the check scheduler, say): runs until its event is set.
Service = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def beat(db: Database, *, worker_id: str, now: datetime, started_at: datetime) -> None:
    values = {
        "id": worker_id,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": started_at,
        "heartbeat_at": now,
        "stopped_at": None,
    }
    with db.session() as session, session.begin():
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(WorkerHeartbeat)
            .values(**values)
            .on_conflict_do_update(
                index_elements=[WorkerHeartbeat.id], set_={"heartbeat_at": now, "stopped_at": None}
            )
        )


def live_workers(db: Database, *, now: datetime, stale_after: timedelta) -> list[WorkerHeartbeat]:
    with db.read_session() as session:
        return list(
            session.scalars(
                select(WorkerHeartbeat).where(
                    WorkerHeartbeat.heartbeat_at >= now - stale_after,
                    WorkerHeartbeat.stopped_at.is_(None),
                )
            )
        )


@dataclass
class Worker:
    """One worker: ``await worker.run(stop)`` until ``stop`` is set, then drain."""

    db: Database
    clock: Clock
    jobs: JobRunner
    deliver: DeliveryRound | None = None
    worker_id: str = field(default_factory=new_worker_id)
    poll_interval: timedelta = timedelta(seconds=1)
    heartbeat_interval: timedelta = timedelta(seconds=5)
    on_tick: Callable[[], Any] | None = None
    on_stop: Callable[[], Awaitable[None]] | None = None
    services: Sequence[Service] = ()
    # After an error (the database restarting, say), wait this long before trying again.
    error_backoff: timedelta = timedelta(seconds=5)
    # Woken when this process (or, on PostgreSQL, another) commits work; without it the
    # worker only polls every poll_interval.
    wakeup: Wakeup | None = None
    _delivering: bool = field(default=False, init=False, repr=False)
    _delivery_rounds: int = field(default=0, init=False, repr=False)
    _rounds_done: asyncio.Condition = field(
        default_factory=asyncio.Condition, init=False, repr=False
    )

    async def run(self, stop: asyncio.Event | threading.Event) -> None:
        started_at = self.clock.now()
        log.info("worker.started", worker_id=self.worker_id)
        services_stop = asyncio.Event()
        services = [asyncio.create_task(service(services_stop)) for service in self.services]
        # Deliveries run beside the job rounds, not between them: 3,000 pages queued by a
        # burst of steps must not hold the next steps back, nor a long round of steps
        # hold back a page that is already committed.
        deliveries = (
            asyncio.create_task(self._delivery_loop(stop)) if self.deliver is not None else None
        )
        try:
            await self._job_loop(stop, started_at)
        except asyncio.CancelledError:
            if deliveries is not None:
                deliveries.cancel()  # the dispatcher hands its unsent claims back
            raise
        finally:
            # A stop request is honoured between rounds, never inside one: the delivery
            # round under way finishes (each send bounded by its channel's timeout) and
            # is recorded, so a SIGTERM neither cuts a page off nor leaves a claim to
            # wait out its lease.
            if deliveries is not None:
                outcome = (await asyncio.gather(deliveries, return_exceptions=True))[0]
                if isinstance(outcome, Exception):
                    log.error("worker.deliveries_failed", error=repr(outcome))
            services_stop.set()
            for outcome in await asyncio.gather(*services, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    log.error("worker.service_failed", error=repr(outcome))
            if self.on_stop is not None:
                await self.on_stop()
            await asyncio.to_thread(self._mark_stopped)
            log.info("worker.stopped", worker_id=self.worker_id)

    async def _job_loop(self, stop: asyncio.Event | threading.Event, started_at: datetime) -> None:
        last_beat: datetime | None = None
        while not stop.is_set():
            try:
                now = self.clock.now()
                if last_beat is None or now - last_beat >= self.heartbeat_interval:
                    await asyncio.to_thread(
                        beat, self.db, worker_id=self.worker_id, now=now, started_at=started_at
                    )
                    last_beat = now
                busy = await self.tick()
            except Exception as exc:
                # A worker that dies on a database blip would leave every deadline to
                # the others (or to no one); log, wait, and carry on.
                log.exception("worker.round_failed", worker_id=self.worker_id, error=str(exc))
                await _wait(stop, self.error_backoff.total_seconds())
                continue
            if not busy:
                await self._idle(stop, topic=JOBS)
            else:
                await self._pages_first(stop)

    async def _pages_first(self, stop: asyncio.Event | threading.Event) -> None:
        """Before the next round of jobs, let the pages this one queued go out.

        Both loops share one process (and, on SQLite, one writer), so a burst of steps
        run back to back would starve the deliveries, and a step is only as useful as
        its page.  Waiting for one delivery round keeps the two in step; it is bounded
        by the poll interval in case the delivery loop is stuck.
        """
        if self.deliver is None or self.wakeup is None:
            return
        rounds = self._delivery_rounds
        if not (self._delivering or self.wakeup.pending(self.clock.now(), topic=OUTBOX)):
            return
        async with self._rounds_done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._rounds_done.wait_for(
                        lambda: self._delivery_rounds > rounds or stop.is_set()
                    ),
                    timeout=self.poll_interval.total_seconds(),
                )

    async def _delivery_loop(self, stop: asyncio.Event | threading.Event) -> None:
        assert self.deliver is not None
        while not stop.is_set():
            self._delivering = True
            failed = False
            try:
                delivered = await self.deliver()
            except Exception as exc:
                log.exception("worker.delivery_failed", worker_id=self.worker_id, error=str(exc))
                delivered, failed = 0, True
            finally:
                self._delivering = False
                self._delivery_rounds += 1
                async with self._rounds_done:
                    self._rounds_done.notify_all()
            if failed:  # the job loop does not wait for deliveries while they back off
                await _wait(stop, self.error_backoff.total_seconds())
            elif not delivered:
                await self._idle(stop, topic=OUTBOX)

    async def tick(self) -> bool:
        """One round of due jobs; True when there was something to do.

        Outbox deliveries are not part of it: they run in a loop of their own, woken
        by the notifications these jobs commit.
        """
        outcomes = await asyncio.to_thread(self.jobs.run_due)
        if self.on_tick is not None:
            self.on_tick()
        return bool(outcomes)

    async def _idle(self, stop: asyncio.Event | threading.Event, *, topic: str) -> None:
        """Until the next poll, or sooner when committed work wakes us (or falls due)."""
        seconds = self.poll_interval.total_seconds()
        if self.wakeup is None:
            await _wait(stop, seconds)
            return
        await self.wakeup.wait(seconds, now=self.clock.now, stop=stop.is_set, topic=topic)

    def _mark_stopped(self) -> None:
        try:
            with self.db.session() as session, session.begin():
                session.execute(
                    update(WorkerHeartbeat)
                    .where(WorkerHeartbeat.id == self.worker_id)
                    .values(stopped_at=self.clock.now())
                )
        except Exception as exc:  # the database may be what is going away
            log.warning("worker.mark_stopped_failed", error=str(exc))


async def _wait(stop: asyncio.Event | threading.Event, seconds: float) -> None:
    if isinstance(stop, asyncio.Event):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        return
    # A threading.Event (set from a signal handler in another thread): poll finely.
    deadline = asyncio.get_running_loop().time() + seconds
    while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(min(0.05, seconds))
