"""The worker runs committed work at once instead of at its next poll: in-process through
the Database's wake-up, across processes through PostgreSQL's LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

import pytest

from opsbook.core.clock import SystemClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRegistry, JobRunner, schedule
from opsbook.core.wakeup import PostgresListener, Wakeup

POLL = timedelta(seconds=30)  # far longer than any wait below: only a wake-up explains speed


def _worker_thread(db: Database, done: dict[str, float], stop: threading.Event) -> threading.Thread:
    from opsbook.core.worker import Worker

    registry = JobRegistry()
    registry.register("test.wake", lambda ctx: done.setdefault(ctx.job.key, time.monotonic()))
    clock = SystemClock()
    runner = JobRunner(db=db, registry=registry, clock=clock, worker_id="waker")
    worker = Worker(db=db, clock=clock, jobs=runner, poll_interval=POLL, wakeup=db.wakeup)
    thread = threading.Thread(target=lambda: asyncio.run(worker.run(stop)), daemon=True)
    thread.start()
    time.sleep(0.5)  # its first round (heartbeat, nothing due) is over: it now waits
    return thread


def _schedule(db: Database, key: str, delay: float = 0.0) -> float:
    now = SystemClock().now()
    with db.session() as session, session.begin():
        schedule(session, kind="test.wake", key=key, run_at=now + timedelta(seconds=delay), now=now)
    return time.monotonic()


def _wait_for(done: dict[str, float], key: str, limit: float = 5.0) -> float:
    deadline = time.monotonic() + limit
    while key not in done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert key in done, f"{key} did not run within {limit}s"
    return done[key]


def test_a_job_committed_in_process_runs_at_once_and_one_due_later_on_time(db: Database) -> None:
    done: dict[str, float] = {}
    stop = threading.Event()
    thread = _worker_thread(db, done, stop)
    try:
        committed = _schedule(db, "now")
        assert _wait_for(done, "now") - committed < 1.0
        committed = _schedule(db, "soon", delay=0.5)
        ran = _wait_for(done, "soon")
        assert 0.4 <= ran - committed < 1.5
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_rolled_back_schedule_wakes_nobody() -> None:
    wakeup = Wakeup()

    async def waits() -> float:
        started = time.monotonic()
        await wakeup.wait(0.3, now=SystemClock().now, stop=lambda: False)
        return time.monotonic() - started

    assert asyncio.run(waits()) >= 0.29  # nothing notified: it waits its full time
    wakeup.notify()
    assert asyncio.run(waits()) < 0.1  # a notification made before the wait is not lost


def test_work_committed_by_another_process_wakes_the_worker_on_postgresql(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    url = db.engine.url.render_as_string(hide_password=False)
    other = Database.connect(url)  # what another process (a web process) holds
    listener = PostgresListener(url, db.wakeup)
    listener.start()
    done: dict[str, float] = {}
    stop = threading.Event()
    thread = _worker_thread(db, done, stop)
    try:
        committed = _schedule(other, "remote")
        assert _wait_for(done, "remote") - committed < 1.5
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.stop()
        other.dispose()
