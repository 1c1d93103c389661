"""The checks API: state, results and uptime of configured checks; heartbeat pings."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsbook.checks.runner import compile_checks
from opsbook.checks.scheduler import Scheduler
from opsbook.demo.target import TargetServer
from opsbook.runtime import Runtime
from support import TEST_CONFIG, bearer

KEY = "nightly-backup-7f3a9c2e41"


@pytest.fixture
def target() -> Iterator[TargetServer]:
    server = TargetServer("127.0.0.1", 0)
    server.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def watched(runtime: Runtime, config_file: Path, target: TargetServer) -> Runtime:
    config_file.write_text(
        TEST_CONFIG
        + "components:\n  - name: API\n"
        + "checks:\n"
        + "  - name: api-health\n"
        + f"    http: {{url: '{target.url}/api/health'}}\n"
        + "    every: 1m\n"
        + "    conditions: ['body.services.database == \"healthy\"']\n"
        + "    component: API\n"
        + "  - name: nightly-backup\n"
        + f"    heartbeat: {{key: {KEY}, period: 1d, grace: 1h}}\n"
    )
    runtime.reload_config()
    return runtime


def _run_checks_once(runtime: Runtime) -> None:
    async def once() -> None:
        scheduler = Scheduler(
            runtime.db, runtime.clock, compile_checks(runtime.config.checks), leases=False
        )
        await scheduler.run_due(runtime.clock.now() + timedelta(minutes=1))
        await scheduler.flush()

    asyncio.run(once())


def test_a_failing_check_shows_down_with_its_reason(
    watched: Runtime, client: TestClient, tokens: dict[str, str], target: TargetServer
) -> None:
    viewer = bearer(tokens["viewer"])
    target.state.set("degraded")
    _run_checks_once(watched)
    [check, heartbeat] = client.get("/api/v1/checks", headers=viewer).json()
    assert (check["name"], check["status"], check["component"]) == ("api-health", "down", "API")
    assert check["last_reason"] == {
        "code": "condition",
        "message": 'expected body.services.database == "healthy", got "unhealthy"',
    }
    assert heartbeat["name"] == "nightly-backup"
    results = client.get(
        "/api/v1/checks/api-health/results",
        params={"since": "2000-01-01T00:00:00Z"},
        headers=viewer,
    ).json()
    assert [r["ok"] for r in results] == [False]
    assert {"connect", "ttfb", "total"} <= set(results[0]["timings"])
    assert results[0]["verdicts"][-1]["observed"] == "unhealthy"


def test_uptime_counts_minutes_of_downtime(
    watched: Runtime, client: TestClient, tokens: dict[str, str], target: TargetServer
) -> None:
    target.state.set("down")
    _run_checks_once(watched)
    watched.clock.advance(timedelta(minutes=1))
    target.state.set("ok")
    _run_checks_once(watched)
    end = watched.clock.now() + timedelta(minutes=1)  # the window covers the current minute
    uptime = client.get(
        "/api/v1/checks/api-health/uptime",
        params={"to": end.isoformat()},
        headers=bearer(tokens["viewer"]),
    ).json()
    assert (uptime["down_minutes"], uptime["total_minutes"], uptime["ratio"]) == (1, 2, 0.5)


def test_unknown_checks_and_bad_windows_are_clear_errors(
    watched: Runtime, client: TestClient, tokens: dict[str, str]
) -> None:
    viewer = bearer(tokens["viewer"])
    assert client.get("/api/v1/checks/nope", headers=viewer).json()["message"] == (
        "no check named 'nope'"
    )
    response = client.get(
        "/api/v1/checks/api-health/uptime",
        params={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=viewer,
    )
    assert (response.status_code, response.json()["message"]) == (422, "'to' must be after 'from'")


def test_a_heartbeat_ping_needs_only_the_key(watched: Runtime, client: TestClient) -> None:
    response = client.post(f"/api/v1/heartbeats/{KEY}")
    assert response.json() == {"status": "ok", "check": "nightly-backup"}
    wrong = client.post("/api/v1/heartbeats/not-the-key-at-all-000")
    assert (wrong.status_code, wrong.json()["message"]) == (404, "no heartbeat check has this key")


def test_the_checks_api_needs_a_token(watched: Runtime, client: TestClient) -> None:
    assert client.get("/api/v1/checks").status_code == 401
