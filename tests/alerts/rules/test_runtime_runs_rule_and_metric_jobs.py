"""The runtime registers the rule and metric job kinds and books them when a worker starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Job
from opsbook.metrics.scrape import ScrapeService
from opsbook.runtime import Runtime
from opsbook.settings import Settings
from support import TEST_CONFIG


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(
        TEST_CONFIG
        + "rules:\n"
        + "  - {name: A, expr: 'up == 0'}\n"
        + "  - {name: B, expr: 'up == 0', every: 30s}\n"
    )
    return path


def test_a_worker_books_every_interval_and_the_metric_jobs(
    db: Database, clock: FakeClock, config_file: Path
) -> None:
    runtime = Runtime.create(
        Settings(database_url=db.url, config_file=config_file), clock=clock, db=db, migrate=False
    )
    assert {"rules.evaluate", "metrics.rollup", "metrics.prune"} <= set(runtime.jobs.kinds())
    worker = runtime.build_worker(worker_id="w1")
    assert any(isinstance(service, ScrapeService) for service in worker.services)
    with db.read_session() as session:
        keys = sorted(session.scalars(select(Job.key).where(Job.status == "pending")))
    evaluations = [k for k in keys if k.startswith("rules.evaluate:")]
    assert [k.split(":")[1] for k in evaluations] == ["30000", "60000"]
    assert any(k.startswith("metrics.rollup:") for k in keys)
    assert any(k.startswith("metrics.prune:") for k in keys)
    runtime.build_worker(worker_id="w2")  # a second worker books nothing twice
    with db.read_session() as session:
        again = sorted(session.scalars(select(Job.key).where(Job.status == "pending")))
    assert again == keys
