"""Shared pieces for the incidents tests: a config with real channels, and a job runner."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsbook.config.loader import load_config_text
from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRegistry, JobRunner
from opsbook.incidents import register_incident_jobs

# P1 escalates through two channels an hour apart, so levels can be seen in the outbox;
# the other levels keep the seeds' defaults (on-call targets are recorded as pending).
INCIDENTS_CONFIG = """\
service: {name: shop, timezone: Europe/Berlin}
channels:
  - {name: incidents, kind: console}
  - {name: leads, kind: console}
  - {name: cto, kind: console}
severities:
  P1:
    escalate_to: [channel:leads, channel:cto]
"""


@pytest.fixture
def config() -> OpsbookConfig:
    return load_config_text(INCIDENTS_CONFIG)


@pytest.fixture
def make_runner(db: Database, clock: FakeClock, config: OpsbookConfig) -> Callable[[], JobRunner]:
    """A fresh registry and runner each call: what a restarted worker has."""

    def build(worker_id: str = "worker-1") -> JobRunner:
        registry = JobRegistry()
        register_incident_jobs(registry, config=lambda: config)
        return JobRunner(db=db, registry=registry, clock=clock, worker_id=worker_id)

    return build
