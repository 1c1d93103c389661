"""Before the server takes requests, intake runs a new alert's whole path in transactions
that it rolls back: nothing is stored, woken or sent, and the first real alert is
served as any other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from alerts.pipeline import ALERTS_CONFIG, Pipeline, dumps, make_runtime
from opsbook.alerts.committer import WARM_UP_ROUNDS, GroupCommitter
from opsbook.alerts.models import Alert, AlertGroup, AlertGroupMember
from opsbook.app import create_app
from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Job, Notification
from opsbook.core.wakeup import OUTBOX

AT_ONCE = ALERTS_CONFIG.replace("group_wait: 30s", "group_wait: 0s")
TABLES: tuple[Any, ...] = (Alert, AlertGroup, AlertGroupMember, Notification, Job)


@pytest.fixture
def pipeline(db: Database, clock: FakeClock, tmp_path: Path) -> Pipeline:
    return Pipeline(make_runtime(db, clock, AT_ONCE, tmp_path))


def _counts(db: Database) -> dict[str, int]:
    with db.read_session() as session:
        return {
            table.__tablename__: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in TABLES
        }


def _live_flusher(pipeline: Pipeline, handed: list[outbox.Delivery]) -> None:
    flusher = pipeline.runtime.group_flusher(hand_off=handed.extend, worker_id="worker-a")
    flusher.live = lambda: True
    pipeline.runtime.alert_flusher = flusher


def test_the_warm_up_runs_before_serving_and_leaves_no_trace(
    pipeline: Pipeline, alert_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[outbox.Delivery] = []
    _live_flusher(pipeline, handed)
    rounds: list[int] = []
    real = GroupCommitter.warm_up

    def counted(self: GroupCommitter, *args: Any, **kwargs: Any) -> int:
        ran = real(self, *args, **kwargs)
        rounds.append(ran)
        return ran

    monkeypatch.setattr(GroupCommitter, "warm_up", counted)
    before = _counts(pipeline.db)

    with TestClient(create_app(runtime=pipeline.runtime), base_url="http://127.0.0.1") as client:
        assert rounds == [WARM_UP_ROUNDS]  # in the app's start-up, before any request
        assert _counts(pipeline.db) == before
        assert handed == []
        assert not pipeline.db.wakeup.pending(pipeline.clock.now(), topic=OUTBOX)

        response = client.post(
            "/api/v2/alerts",
            content=dumps([{"labels": {"alertname": "A", "service": "s"}}]),
            headers={"Authorization": f"Bearer {alert_tokens['responder']}"},
        )

    assert response.status_code == 200, response.text
    [delivery] = handed
    assert delivery.idempotency_key.endswith(":1:am")  # the group's first notification
    assert [a["labels"]["alertname"] for a in delivery.message["data"]["alerts"]] == ["A"]
    after = _counts(pipeline.db)
    assert (after["alerts"], after["alert_groups"], after["notifications"]) == (1, 1, 1)


def test_a_warm_up_that_fails_is_logged_and_given_up(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    _live_flusher(pipeline, [])
    committer = GroupCommitter(
        pipeline.db,
        pipeline.clock,
        lambda: pipeline.runtime.config,
        lambda: pipeline.runtime.alert_flusher,
    )

    def refused(*_args: Any, **_kwargs: Any) -> list[Any]:
        raise RuntimeError("database refused")

    monkeypatch.setattr(committer, "_transaction", refused)
    with structlog.testing.capture_logs() as logs:
        assert committer.warm_up() == 0
    assert [(e["event"], e["error"]) for e in logs] == [
        ("alerts.warm_up_failed", "RuntimeError: database refused")
    ]
    assert _counts(pipeline.db)["alerts"] == 0
