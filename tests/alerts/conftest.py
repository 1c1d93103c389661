"""Fixtures of the alert pipeline tests: a runtime with a routing config, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerts.pipeline import ALERTS_CONFIG, Pipeline, make_runtime
from opsbook.app import create_app
from opsbook.core.auth import create_token
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database


@pytest.fixture
def pipeline(db: Database, clock: FakeClock, tmp_path: Path) -> Pipeline:
    return Pipeline(make_runtime(db, clock, ALERTS_CONFIG, tmp_path))


@pytest.fixture
def alerts_client(pipeline: Pipeline) -> Iterator[TestClient]:
    app = create_app(runtime=pipeline.runtime)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def alert_tokens(pipeline: Pipeline) -> dict[str, str]:
    raw: dict[str, str] = {}
    with pipeline.db.session() as session, session.begin():
        for role in ("viewer", "responder", "admin"):
            _token, raw[role] = create_token(
                session, name=f"{role}-token", role=role, now=pipeline.clock.now()
            )
    return raw
