"""Rules with ``source:`` run their PromQL on a Prometheus: here a local server that
answers in the documented format of ``GET /api/v1/query``."""

from __future__ import annotations

from datetime import timedelta

from rules_support import RecordingSink, RuleLoop
from sqlalchemy import select

from local_http import local_server
from local_http import prometheus_vector as vector
from opsbook.alerts.rules.models import RuleHealth, RuleSeriesState
from opsbook.config import OpsbookConfig, load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

MINUTE = timedelta(minutes=1)


def config_for(url: str) -> OpsbookConfig:
    return load_config_text(
        "service: {name: T}\n"
        "metrics:\n"
        f"  prometheus: [{{name: main, url: '{url}', bearer_token: s3cret-token}}]\n"
        "rules:\n"
        "  - name: InstanceDown\n"
        "    source: main\n"
        "    query: up == 0\n"
        "    for: 2m\n"
        "    severity: P2\n"
        "    annotations: {summary: '{{ $labels.instance }} of {{ $labels.job }} is down'}\n"
    )


def test_every_series_the_query_returns_is_an_alert(db: Database, clock: FakeClock) -> None:
    sink = RecordingSink(db)
    with local_server() as server:
        down = ({"__name__": "up", "job": "node", "instance": "db1:9100"}, "0")
        server.answer_json("/api/v1/query", vector(down))
        loop = RuleLoop(db, clock, config_for(server.url), sink)
        loop.run_for(3 * MINUTE)
        path, query, headers = server.requests[0]
        assert path == "/api/v1/query"
        assert query["query"] == ["up == 0"]
        assert float(query["time"][0]) == (clock.now() - 2 * MINUTE).timestamp()
        assert headers["Authorization"] == "Bearer s3cret-token"
        (alert,) = sink.received()
        assert alert.labels == {
            "alertname": "InstanceDown",
            "job": "node",
            "instance": "db1:9100",
            "severity": "P2",
        }
        assert alert.annotations == {"summary": "db1:9100 of node is down"}

        # Prometheus fails: nothing changes, the error is kept; the alert is not resolved.
        server.answer_json(
            "/api/v1/query",
            {"status": "error", "errorType": "timeout", "error": "query timed out"},
            503,
        )
        loop.run_for(2 * MINUTE)
        assert [a for a in sink.received() if a.resolved] == []
        with db.read_session() as session:
            health = session.get(RuleHealth, "InstanceDown")
            (state,) = session.scalars(select(RuleSeriesState)).all()
        assert health is not None
        assert health.last_error == "main: HTTP 503: timeout: query timed out"
        assert state.state == "firing"

        server.answer_json("/api/v1/query", vector())  # the instance is back
        loop.run_for(MINUTE)
    resolved = [a for a in sink.received() if a.resolved]
    assert len(resolved) == 1
    with db.read_session() as session:
        health = session.get(RuleHealth, "InstanceDown")
    assert health is not None
    assert health.last_error is None


def test_an_unreachable_prometheus_is_an_error_not_a_resolution(
    db: Database, clock: FakeClock
) -> None:
    sink = RecordingSink(db)
    loop = RuleLoop(db, clock, config_for("http://127.0.0.1:1"), sink)
    loop.run_for(2 * MINUTE)
    with db.read_session() as session:
        health = session.get(RuleHealth, "InstanceDown")
    assert health is not None
    assert health.last_error is not None
    assert health.last_error.startswith("main: ConnectError")
    assert sink.received() == []
