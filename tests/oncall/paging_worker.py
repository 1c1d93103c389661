"""A worker process for the paging crash test: jobs and deliveries on a shared fake clock.

The clock is a file the test writes (a POSIX timestamp), so two processes and the test
agree on "now" while the test moves it forward minutes at a time.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opsbook.config import load_config
from opsbook.core.db import Database
from opsbook.core.jobs import JobRunner
from opsbook.core.worker import Worker
from opsbook.notify.dispatcher import Dispatcher
from opsbook.notify.registry import build_transports
from opsbook.runtime import Runtime
from opsbook.settings import Settings


class FileClock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        return datetime.fromtimestamp(float(self.path.read_text()), UTC)


def main() -> None:
    url, config_path, clock_path, worker_id = sys.argv[1:5]
    db = Database.connect(url)
    clock = FileClock(Path(clock_path))
    config = load_config(config_path)
    runtime = Runtime.create(
        Settings(database_url=url), config=config, clock=clock, db=db, migrate=False
    )
    runner = JobRunner(
        db=db,
        registry=runtime.jobs,
        clock=clock,
        worker_id=worker_id,
        lease=config.settings.jobs.lease,
        batch_size=5,
        services=runtime,
    )
    dispatcher = Dispatcher(
        db=db,
        clock=clock,
        transports=build_transports(config.channels),
        worker_id=worker_id,
        lease=config.settings.jobs.lease,
        batch_size=5,
    )
    worker = Worker(
        db=db,
        clock=clock,
        jobs=runner,
        deliver=dispatcher.deliver_round,
        worker_id=worker_id,
        poll_interval=timedelta(milliseconds=20),
        error_backoff=timedelta(milliseconds=100),
    )
    asyncio.run(worker.run(threading.Event()))


if __name__ == "__main__":
    main()
