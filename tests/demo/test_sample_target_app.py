"""The demo's sample app answers like the seed runbooks' apps and can be broken on purpose."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check
from opsbook.config import load_config_text
from opsbook.demo.cli import DEMO_CONFIG, render_demo_config
from opsbook.demo.target import DEMO_CERT, DEMO_KEY, TargetServer, create_app_database


@pytest.fixture
def target() -> Iterator[TargetServer]:
    server = TargetServer("127.0.0.1", 0)
    server.start_in_thread()
    yield server
    server.shutdown()
    server.server_close()


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _set_mode(target: TargetServer, body: bytes, content_type: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{target.url}/_demo/mode", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_endpoints_answer_in_the_runbook_shapes(target: TargetServer) -> None:
    assert _get(f"{target.url}/healthz.json") == (200, {"status": "ok"})
    status, ready = _get(f"{target.url}/readyz.json")
    assert (status, ready["status"]) == (200, "ok")
    status, detailed = _get(f"{target.url}/api/health")
    assert status == 200
    assert detailed["status"] == "healthy"
    assert detailed["services"] == {
        "database": "healthy",
        "ai": "healthy",
        "imageProcessing": "healthy",
    }
    assert detailed["timestamp"].endswith("Z")


def test_an_outage_is_simulated_on_request(target: TargetServer) -> None:
    assert _set_mode(target, b"mode=down", "application/x-www-form-urlencoded")[0] == 200
    assert _get(f"{target.url}/healthz.json") == (503, {"status": "down"})
    status, detailed = _get(f"{target.url}/api/health")
    assert (status, detailed["status"]) == (503, "unhealthy")


def test_a_degraded_database_shows_in_the_detailed_health(target: TargetServer) -> None:
    _set_mode(target, b'{"mode": "degraded"}', "application/json")
    status, detailed = _get(f"{target.url}/api/health")
    assert (status, detailed["status"], detailed["services"]["database"]) == (
        200,
        "degraded",
        "unhealthy",
    )
    assert _get(f"{target.url}/readyz.json")[0] == 503


def test_slowness_is_simulated_with_a_delay(target: TargetServer) -> None:
    _set_mode(target, b"mode=slow&delay=300ms", "application/x-www-form-urlencoded")
    started = time.monotonic()
    assert _get(f"{target.url}/healthz.json")[0] == 200
    assert time.monotonic() - started >= 0.3


def test_an_unknown_mode_is_a_clear_400(target: TargetServer) -> None:
    status, body = _set_mode(target, b"mode=exploded", "application/x-www-form-urlencoded")
    assert status == 400
    assert body == {"error": "mode must be one of ok, slow, degraded, down"}
    assert _get(f"{target.url}/_demo/mode")[1]["mode"] == "ok"


def test_the_demo_config_is_valid_and_watches_the_sample_app(tmp_path: Path) -> None:
    text = render_demo_config(
        target_url="http://127.0.0.1:8081",
        tls_port=8443,
        app_db=tmp_path / "app.db",
        config_path=tmp_path / "opsbook.yaml",
        database_url="sqlite:///opsbook.db",
    )
    assert "{" + "target_url}" not in text
    config = load_config_text(text, filename=str(DEMO_CONFIG))
    assert config.find_person("alice") is not None
    assert [channel.name for channel in config.channels] == ["console", "mail"]
    assert [check.kind for check in config.checks] == ["http", "http", "http", "tls", "command"]


def test_the_demo_checks_pass_against_a_healthy_sample_app_and_fail_when_broken(
    tmp_path: Path,
) -> None:
    http, https = TargetServer("127.0.0.1", 0), TargetServer("127.0.0.1", 0, None)
    https.state = http.state
    https.use_tls(DEMO_CERT, DEMO_KEY)
    for server in (http, https):
        server.start_in_thread()
    create_app_database(tmp_path / "app.db")
    try:
        config = load_config_text(
            render_demo_config(
                target_url=http.url,
                tls_port=https.server_address[1],
                app_db=tmp_path / "app.db",
                config_path=tmp_path / "opsbook.yaml",
                database_url="sqlite:///opsbook.db",
            )
        )

        async def run_all() -> dict[str, CheckResult]:
            checks = [compile_check(c) for c in config.checks]
            results = await asyncio.gather(*(c.run(started_at=datetime.now(UTC)) for c in checks))
            return {r.check: r for r in results}

        healthy = asyncio.run(run_all())
        assert {name: r.ok for name, r in healthy.items()} == dict.fromkeys(healthy, True)
        http.state.set("degraded")
        degraded = asyncio.run(run_all())
        reason = degraded["api-health"].reason
        assert reason is not None
        assert reason.message == 'expected body.status == "healthy", got "degraded"'
        assert degraded["healthz"].ok
    finally:
        for server in (http, https):
            server.shutdown()
            server.server_close()
