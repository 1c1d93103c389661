"""A worker process for the crash test: runs ``test.crash`` jobs until killed.

Its handler records each run in ``crash_completions`` inside the job's own transaction,
so the test can count how often each job's effects landed.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from datetime import timedelta

from sqlalchemy import text

from opsbook.core.clock import SystemClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobContext, JobRegistry, JobRunner
from opsbook.core.worker import Worker


def handler(ctx: JobContext) -> None:
    ctx.session.execute(
        text("INSERT INTO crash_completions (job_id, worker) VALUES (:job, :worker)"),
        {"job": ctx.job.id, "worker": sys.argv[2]},
    )
    # Widen the window in which a kill lands mid-job, and keep the run long enough (jobs
    # now share transactions, so they are fast) for the test to kill several workers.
    time.sleep(random.uniform(0.004, 0.012))


def main() -> None:
    url, worker_id = sys.argv[1], sys.argv[2]
    db = Database.connect(url)
    registry = JobRegistry()
    registry.register("test.crash", handler)
    clock = SystemClock()
    runner = JobRunner(
        db=db,
        registry=registry,
        clock=clock,
        worker_id=worker_id,
        lease=timedelta(seconds=1),
        batch_size=10,
    )
    worker = Worker(
        db=db,
        clock=clock,
        jobs=runner,
        worker_id=worker_id,
        poll_interval=timedelta(milliseconds=50),
    )
    asyncio.run(worker.run(threading.Event()))


if __name__ == "__main__":
    main()
