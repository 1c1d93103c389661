"""2,000 jobs, 3 worker processes, several killed with SIGKILL mid-run.

Every job must complete, and no job's effects may land twice.  Completions are
counted by the test itself, in a table the handler writes within the job's
transaction.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from opsbook.core.db import Database
from opsbook.core.jobs import schedule
from opsbook.core.models import Job

JOBS = 2000
WORKERS = 3
KILLS = 6
DEADLINE_S = 150
WORKER_SCRIPT = Path(__file__).with_name("crash_worker.py")


def _start(url: str, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(WORKER_SCRIPT), url, name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _holding_claims(db: Database, procs: dict[str, subprocess.Popen[bytes]]) -> str | None:
    """A live worker that has completed jobs and holds claimed, unfinished ones right
    now: kill it mid-run.  (One still starting up is never the victim: under a loaded
    machine that could kill every original before it ran a job.)"""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        with db.read_session() as session:  # never waits for the workers' write lock
            owners = set(session.scalars(select(Job.lease_owner).where(Job.status == "running")))
            worked = set(
                session.scalars(text("SELECT DISTINCT worker FROM crash_completions")).all()
            )
        alive = {name for name, proc in procs.items() if proc.poll() is None}
        live = sorted(owners & worked & alive)
        if live:
            return live[0]
        time.sleep(0.01)
    return None


def _done(db: Database) -> int:
    with db.read_session() as session:
        return int(
            session.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) or 0
        )


@pytest.mark.slow
def test_every_job_completes_exactly_once_despite_killed_workers(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS crash_completions"))
        conn.execute(
            text("CREATE TABLE crash_completions (job_id INTEGER NOT NULL, worker VARCHAR(40))")
        )
    now = datetime.now(UTC)
    with db.session() as session, session.begin():
        for n in range(JOBS):
            schedule(
                session, kind="test.crash", key=f"crash-{n}", run_at=now, now=now, max_attempts=50
            )

    rng = random.Random(20261122)
    url = db.engine.url.render_as_string(hide_password=False)
    procs = {f"w{n}": _start(url, f"w{n}") for n in range(WORKERS)}
    kills = 0
    started = time.monotonic()
    try:
        while _done(db) < JOBS and time.monotonic() - started < DEADLINE_S:
            time.sleep(rng.uniform(0.1, 0.3))
            if kills < KILLS and _done(db) < JOBS * 0.9:
                # The first kills take the original workers, mid-run (once they have run jobs),
                # so that the rest of the work falls to replacements however fast it goes.
                originals = [f"w{n}" for n in range(WORKERS) if procs[f"w{n}"].poll() is None]
                pool = {n: procs[n] for n in originals} if originals else procs
                victim = _holding_claims(db, pool)
                if victim is None:  # none is mid-run (still starting, or between claims): later
                    continue
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                kills += 1
                name = f"w{WORKERS + kills}"
                procs[name] = _start(url, name)
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    with db.engine.connect() as conn:
        completions = conn.execute(
            text("SELECT job_id, COUNT(*) FROM crash_completions GROUP BY job_id")
        ).all()
        statuses = dict(
            conn.execute(text("SELECT status, COUNT(*) FROM jobs GROUP BY status")).all()
        )
        workers_seen = conn.execute(
            text("SELECT COUNT(DISTINCT worker) FROM crash_completions")
        ).scalar()
        reclaimed = conn.execute(text("SELECT COUNT(*) FROM jobs WHERE attempts > 1")).scalar()
    assert kills >= 3, "the workers finished before enough of them could be killed"
    assert statuses == {"done": JOBS}
    assert len(completions) == JOBS
    assert [job for job, count in completions if count != 1] == []
    assert workers_seen >= WORKERS + 1  # replacements picked up the work of the killed
    assert reclaimed >= 1  # some claims of killed workers expired and were run again
