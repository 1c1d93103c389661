"""`opsbook checks` lists state and uptime; `opsbook checks run NAME` explains one run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.core.db import Database
from opsbook.demo.target import TargetServer
from support import TEST_CONFIG

runner = CliRunner()


@pytest.fixture
def target() -> Iterator[TargetServer]:
    server = TargetServer("127.0.0.1", 0)
    server.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def config(tmp_path: Path, target: TargetServer) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(
        TEST_CONFIG
        + "checks:\n"
        + "  - name: api-health\n"
        + f"    http: {{url: '{target.url}/api/health'}}\n"
        + "    conditions: ['body.status == \"healthy\"', 'response_time < 2s']\n"
        + "  - name: backup\n"
        + "    heartbeat: {key: a-long-heartbeat-key-123, period: 1d}\n"
    )
    return path


def test_run_prints_timings_and_verdicts_and_exits_by_outcome(
    config: Path, target: TargetServer
) -> None:
    ok = runner.invoke(app, ["checks", "run", "api-health", "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    assert "api-health (http): UP" in ok.output
    assert "ttfb" in ok.output
    target.state.set("degraded")
    failed = runner.invoke(app, ["checks", "run", "api-health", "--config", str(config), "--json"])
    assert failed.exit_code == 1
    body = json.loads(failed.output)
    assert body["reason"] == {
        "code": "condition",
        "message": 'expected body.status == "healthy", got "degraded"',
    }
    assert [v["ok"] for v in body["verdicts"]] == [True, False, True]


def test_run_refuses_unknown_and_heartbeat_checks_as_usage_errors(config: Path) -> None:
    unknown = runner.invoke(app, ["checks", "run", "nope", "--config", str(config)])
    assert unknown.exit_code == 2
    assert "no check named 'nope' (known: api-health, backup)" in unknown.output
    heartbeat = runner.invoke(app, ["checks", "run", "backup", "--config", str(config)])
    assert heartbeat.exit_code == 2
    assert "it is pinged, not run" in heartbeat.output


def test_list_shows_every_configured_check(config: Path, db: Database) -> None:
    result = runner.invoke(app, ["checks", "--config", str(config), "--database", db.url, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["name"], r["kind"], r["status"]) for r in rows] == [
        ("api-health", "http", "unknown"),
        ("backup", "heartbeat", "unknown"),
    ]
