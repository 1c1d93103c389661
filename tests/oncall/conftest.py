"""Shared pieces for the on-call tests: a config with a schedule and a policy, a runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from oncall_support import ONCALL_CONFIG, SECRET

from opsbook.config.loader import load_config_text
from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRegistry, JobRunner
from opsbook.incidents import register_incident_jobs
from opsbook.oncall.jobs import register_oncall_jobs
from opsbook.oncall.paging import PagingEnv
from opsbook.runtime import Runtime


@pytest.fixture
def config() -> OpsbookConfig:
    return load_config_text(ONCALL_CONFIG)


@pytest.fixture
def env(config: OpsbookConfig) -> PagingEnv:
    return PagingEnv(
        config=lambda: config, secret_key=lambda: SECRET, base_url=lambda: "http://opsbook.test"
    )


@pytest.fixture
def make_runner(
    db: Database, clock: FakeClock, config: OpsbookConfig, env: PagingEnv
) -> Callable[..., JobRunner]:
    """A fresh registry and runner each call: what a restarted worker has."""

    def build(worker_id: str = "worker-1") -> JobRunner:
        registry = JobRegistry()
        register_incident_jobs(registry, config=lambda: config)
        register_oncall_jobs(registry, env=env)
        return JobRunner(db=db, registry=registry, clock=clock, worker_id=worker_id)

    return build


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """The app fixtures (runtime, client, tokens) load the on-call configuration."""
    path = tmp_path / "opsbook.yaml"
    path.write_text(ONCALL_CONFIG)
    return path


@pytest.fixture
def run_jobs(runtime: Runtime) -> Callable[[], int]:
    """Run every due job of the app's runtime, as its worker would; returns how many ran."""
    runner = JobRunner(
        db=runtime.db, registry=runtime.jobs, clock=runtime.clock, worker_id="w", services=runtime
    )
    return lambda: len(runner.run_until_idle())
