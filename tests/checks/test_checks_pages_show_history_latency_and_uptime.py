"""The operator checks pages: state, sparkline, uptime, the p50/p95 chart, results."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsbook.checks.charts import latency_chart, sparkline
from opsbook.checks.result import CheckResult, Reason
from opsbook.checks.service import latency_series, record_results
from opsbook.core import auth
from opsbook.core.clock import FakeClock
from opsbook.runtime import Runtime
from support import TEST_CONFIG

CONFIG = (
    TEST_CONFIG
    + """\
checks:
  - {name: api-health, http: {url: "http://127.0.0.1:9/healthz"}}
"""
)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(CONFIG)
    return path


def _results(runtime: Runtime, clock: FakeClock) -> None:
    results = [
        CheckResult(
            check="api-health",
            kind="http",
            started_at=clock.now() - timedelta(minutes=30 - minute),
            ok=minute != 7,
            status="up" if minute != 7 else "down",
            reason=None if minute != 7 else Reason("http_status", "expected 2xx, got 503"),
            timings={"total": 0.05 + minute / 1000},
        )
        for minute in range(30)
    ]
    with runtime.db.session() as session, session.begin():
        record_results(session, results=results, now=clock.now())


def _log_in(client: TestClient, runtime: Runtime) -> None:
    with runtime.db.session() as session, session.begin():
        auth.set_password(
            session, person_id="vic", password="correct horse battery", now=runtime.clock.now()
        )
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert csrf is not None
    client.post(
        "/login",
        data={
            "username": "vic",
            "password": "correct horse battery",
            "csrf_token": csrf.group(1),
            "next": "/",
        },
    )


def test_the_pages_show_state_uptime_chart_and_results(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    _results(runtime, clock)
    assert client.get("/checks", follow_redirects=False).status_code == 303  # login first
    _log_in(client, runtime)
    listing = client.get("/checks").text
    assert '<a href="/checks/api-health">api-health</a>' in listing
    assert "96.667%" in listing  # 29 of 30 observed minutes up
    detail = client.get("/checks/api-health?hours=1")
    assert detail.status_code == 200
    assert "latency p50 and p95 (ms)</title>" in detail.text
    assert detail.text.count("<tr><td>") == 30  # every result of the hour, newest first
    assert "expected 2xx, got 503" in detail.text
    assert client.get("/checks/nope").status_code == 404


def test_percentiles_come_from_merged_minute_histograms(runtime: Runtime, clock: FakeClock) -> None:
    _results(runtime, clock)
    with runtime.db.read_session() as session:
        points = latency_series(
            session,
            check="api-health",
            start=clock.now() - timedelta(minutes=30),
            end=clock.now(),
            bucket=timedelta(minutes=15),
        )
    assert [p.count for p in points] == [15, 15]
    assert points[0].failures == 1
    # Latencies 50..64 ms in the first bucket: p50 ~ 57 ms, within the 5% bound.
    assert points[0].p50_ms is not None
    assert abs(points[0].p50_ms - 57) / 57 < 0.05
    assert points[1].p95_ms is not None
    assert abs(points[1].p95_ms - 79) / 79 < 0.05


def test_the_svgs_are_titled_and_survive_gaps() -> None:
    spark = sparkline("api", [10.0, None, 12.0, 30.0])
    assert "<title>api: latency 10 to 30 ms, last 30 ms</title>" in spark
    assert spark.count("M") == 1  # a sparkline bridges the gap
    assert latency_chart("api", [], [10.0, None, 12.0], [11.0, None, 13.0]).count("M") == 4
    assert "no latency data" in sparkline("api", [None, None])
    chart = latency_chart("api", [], [], [])
    assert '<desc id="chart-d">no latency data in this window</desc>' in chart
