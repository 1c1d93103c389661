"""The worker's outbox deliveries run beside its job rounds: a page committed while a long
round of jobs is under way goes out without waiting for the round, and on stop the
delivery round in flight finishes rather than being cut off."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from opsbook.core.clock import SystemClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobContext, JobRegistry, JobRunner, schedule
from opsbook.core.outbox import enqueue
from opsbook.core.wakeup import OUTBOX
from opsbook.core.worker import DeliveryRound, Worker

POLL = timedelta(seconds=30)  # longer than any wait below: only a wake-up explains progress
PATIENCE = 30.0  # generous: the machine may be loaded


def _worker(db: Database, registry: JobRegistry, deliver: DeliveryRound) -> Worker:
    clock = SystemClock()
    runner = JobRunner(db=db, registry=registry, clock=clock, worker_id="w1")
    return Worker(
        db=db,
        clock=clock,
        jobs=runner,
        deliver=deliver,
        poll_interval=POLL,
        wakeup=db.wakeup,
    )


def test_a_page_goes_out_while_a_long_job_round_is_still_running(db: Database) -> None:
    job_started = threading.Event()
    delivered_during_job = threading.Event()
    job_finished = threading.Event()

    def long_job(ctx: JobContext) -> None:
        job_started.set()
        # Stands for a long round: it ends once a delivery got through meanwhile (or,
        # if deliveries wait for rounds, after PATIENCE, and the test fails).
        delivered_during_job.wait(PATIENCE)
        job_finished.set()

    async def deliver() -> int:
        if job_started.is_set() and not job_finished.is_set():
            delivered_during_job.set()
        return 0

    registry = JobRegistry()
    registry.register("test.long", long_job)
    stop = threading.Event()
    worker = _worker(db, registry, deliver)
    thread = threading.Thread(target=lambda: asyncio.run(worker.run(stop)), daemon=True)
    thread.start()
    try:
        now = SystemClock().now()
        with db.session() as session, session.begin():
            schedule(session, kind="test.long", key="long", run_at=now, now=now)
        assert job_started.wait(PATIENCE)
        db.wakeup.notify(topic=OUTBOX)  # what committing a notification does
        assert job_finished.wait(PATIENCE)
        assert delivered_during_job.is_set()
    finally:
        stop.set()
        thread.join(timeout=PATIENCE)
    assert not thread.is_alive()


def test_stopping_lets_the_delivery_round_in_flight_finish(db: Database) -> None:
    in_flight = threading.Event()
    release = threading.Event()
    rounds: list[str] = []

    async def deliver() -> int:
        if rounds:  # the first round (at start) is empty; the woken one is "in flight"
            in_flight.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
            rounds.append("finished")
            return 1
        rounds.append("empty")
        return 0

    stop = threading.Event()
    worker = _worker(db, JobRegistry(), deliver)
    thread = threading.Thread(target=lambda: asyncio.run(worker.run(stop)), daemon=True)
    thread.start()
    try:
        assert _eventually(lambda: bool(rounds))
        db.wakeup.notify(topic=OUTBOX)
        assert in_flight.wait(PATIENCE)
        stop.set()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # waiting for the send under way, not cutting it off
        release.set()
        thread.join(timeout=PATIENCE)
        assert not thread.is_alive()
        assert rounds == ["empty", "finished"]  # recorded, and no round started after stop
    finally:
        release.set()
        stop.set()
        thread.join(timeout=PATIENCE)


def _eventually(check: Callable[[], bool], limit: float = PATIENCE) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


def test_the_pages_a_round_queued_go_out_before_the_next_round_of_jobs(db: Database) -> None:
    events: list[str] = []

    def job(ctx: JobContext) -> None:
        events.append(ctx.job.key)
        if ctx.job.key == "first":
            enqueue(
                ctx.session,
                channel="console",
                kind="console",
                message={"title": "paged"},
                idempotency_key="page:first",
                now=ctx.now,
            )

    async def deliver() -> int:
        if "first" not in events or "delivered" in events:
            return 0
        await asyncio.sleep(0.2)  # a slow send: the next round must not overtake it
        events.append("delivered")
        return 1

    registry = JobRegistry()
    registry.register("test.step", job)
    clock = SystemClock()
    runner = JobRunner(db=db, registry=registry, clock=clock, worker_id="w1", batch_size=1)
    worker = Worker(
        db=db, clock=clock, jobs=runner, deliver=deliver, poll_interval=POLL, wakeup=db.wakeup
    )
    now = clock.now()
    with db.session() as session, session.begin():
        schedule(session, kind="test.step", key="first", run_at=now - timedelta(seconds=1), now=now)
        schedule(session, kind="test.step", key="second", run_at=now, now=now)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(worker.run(stop)), daemon=True)
    thread.start()
    try:
        assert _eventually(lambda: "second" in events)
        assert events == ["first", "delivered", "second"]
    finally:
        stop.set()
        thread.join(timeout=PATIENCE)
