"""The demo's sample app answers like the seed runbooks' apps and can be broken on purpose."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from opsbook.config import load_config_text
from opsbook.demo.cli import DEMO_CONFIG
from opsbook.demo.target import TargetServer


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


def test_the_demo_config_is_valid() -> None:
    config = load_config_text(
        DEMO_CONFIG.read_text().replace("{target_url}", "http://127.0.0.1:8081"),
        filename=str(DEMO_CONFIG),
    )
    assert config.find_person("alice") is not None
    assert [channel.name for channel in config.channels] == ["console"]
