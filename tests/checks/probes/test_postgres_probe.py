"""The postgres probe connects, runs a query and lets conditions read its rows."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from opsbook.checks.config import CheckConfig
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check
from opsbook.config import load_config_text

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
DSN = os.environ.get("OPSBOOK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ACTIVE = "SELECT count(*) AS count FROM pg_stat_activity"
LONG_RUNNING = (
    "SELECT count(*) AS count FROM pg_stat_activity"
    " WHERE state = 'active' AND now() - query_start > interval '5 minutes'"
)


@pytest.fixture(autouse=True)
def _postgres_answers() -> None:
    try:
        psycopg.connect(DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc}")


async def run(spec: dict[str, Any], conditions: list[str] | None = None) -> CheckResult:
    config = CheckConfig.model_validate(
        {"name": "db", "postgres": spec, "conditions": conditions or [], "timeout": "2s"}
    )
    return await compile_check(config).run(started_at=NOW)


async def test_select_1_by_default() -> None:
    result = await run({"dsn": DSN})
    assert result.ok, result.reason
    assert result.observed["result"] == {"rows": [{"?column?": 1}], "row_count": 1}
    assert result.observed["connect_time"] == result.timings["connect"]
    assert set(result.timings) == {"connect", "query", "total"}


async def test_the_runbooks_connection_count_and_long_running_queries() -> None:
    active = await run({"dsn": DSN, "query": ACTIVE}, ["result.rows[0].count < 90"])
    long_running = await run({"dsn": DSN, "query": LONG_RUNNING}, ["result.rows[0].count == 0"])
    assert active.ok, active.reason
    assert active.observed["result"]["rows"][0]["count"] >= 1
    assert long_running.ok, long_running.reason


async def test_a_failing_condition_reads_the_row() -> None:
    result = await run({"dsn": DSN, "query": "SELECT 95 AS count"}, ["result.rows[0].count < 90"])
    assert result.reason is not None
    assert result.reason.message == "expected result.rows[0].count < 90, got 95"


async def test_a_failing_query_is_a_query_failure() -> None:
    result = await run({"dsn": DSN, "query": "SELECT * FROM no_such_table"})
    assert result.reason is not None
    assert result.reason.code == "query"
    assert 'relation "no_such_table" does not exist' in result.reason.message


async def test_a_slow_query_times_out_and_is_stopped() -> None:
    config = CheckConfig.model_validate(
        {
            "name": "db",
            "postgres": {"dsn": DSN, "query": "SELECT pg_sleep(5)"},
            "timeout": "300ms",
        }
    )
    result = await compile_check(config).run(started_at=NOW)
    assert result.reason is not None
    assert result.reason.code in ("timeout", "query")  # whichever side gave up first
    assert "connect" in result.timings
    assert result.timings["total"] < 1.5


async def test_a_refused_connection_never_shows_the_password() -> None:
    dsn = "postgresql://opsbook:s3cr3t-pw@127.0.0.1:9/opsbook"
    result = await run({"dsn": dsn})
    assert result.reason is not None
    assert result.reason.code == "connect"
    assert "s3cr3t-pw" not in repr(result)


def test_the_dsn_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    (tmp_path / "dsn").write_text(DSN + "\n")
    config = load_config_text(
        f"""
service: {{name: Shop}}
checks:
  - name: from-file
    postgres: {{dsn_file: {tmp_path / "dsn"}}}
  - name: from-env
    postgres: {{dsn: "${{DATABASE_URL}}", query: "{ACTIVE}"}}
""",
        env={"DATABASE_URL": DSN},
    )
    specs = [check.spec for check in config.checks]
    assert [s.dsn.get_secret_value() for s in specs] == [DSN, DSN]  # type: ignore[union-attr]
    assert "127.0.0.1" not in repr(config.checks)
