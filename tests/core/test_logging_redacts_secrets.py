"""Secrets never reach the logs: by key, and by value wherever they appear."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from opsbook.core.logging import configure_logging, register_secret


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging(fmt="json", level="info")
    yield capsys
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_values_under_sensitive_keys_are_masked(json_logs: pytest.CaptureFixture[str]) -> None:
    structlog.get_logger("t").info(
        "smtp.login", password="hunter22", headers={"Authorization": "Bearer abc"}, user="ops"
    )
    [line] = _lines(json_logs)
    assert line["password"] == "[redacted]"
    assert line["headers"] == {"Authorization": "[redacted]"}
    assert line["user"] == "ops"


def test_a_registered_secret_is_masked_inside_any_text(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    register_secret("s3cr3t-webhook-key")
    structlog.get_logger("t").warning(
        "notify.failed", error="POST https://hooks.example/?key=s3cr3t-webhook-key: 500"
    )
    logging.getLogger("uvicorn.error").warning("stdlib says s3cr3t-webhook-key too")
    lines = _lines(json_logs)
    assert lines[0]["error"] == "POST https://hooks.example/?key=[redacted]: 500"
    assert lines[1]["event"] == "stdlib says [redacted] too"
    assert all("s3cr3t-webhook-key" not in json.dumps(line) for line in lines)


def test_logs_are_json_lines_with_level_and_timestamp(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    structlog.get_logger("opsbook.test").info("worker.started", worker_id="w1")
    [line] = _lines(json_logs)
    assert line["event"] == "worker.started"
    assert line["level"] == "info"
    assert line["logger"] == "opsbook.test"
    assert str(line["timestamp"]).endswith("Z")
