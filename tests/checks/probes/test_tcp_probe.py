"""The tcp probe connects (nc -zv), and can send a line and expect an answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from opsbook.checks.config import CheckConfig
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def redis_like_server() -> AsyncIterator[int]:
    """Answers PING with +PONG, says nothing otherwise; keeps the connection open."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if line.strip() == b"PING":
                    writer.write(b"+PONG\r\n")
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def run(port: int, timeout: str = "5s", **options: Any) -> CheckResult:
    # A roomy timeout for answers that come, so a loaded machine cannot fail them.
    config = CheckConfig.model_validate(
        {
            "name": "cache",
            "tcp": {"host": "127.0.0.1", "port": port, **options},
            "timeout": timeout,
        }
    )
    return await compile_check(config).run(started_at=NOW)


async def test_connect_only_like_nc_zv() -> None:
    async with redis_like_server() as port:
        result = await run(port)
    assert result.ok
    assert result.observed == {"connected": True}
    assert set(result.timings) == {"dns", "connect", "total"}


async def test_send_and_expect() -> None:
    async with redis_like_server() as port:
        result = await run(port, send="PING\r\n", expect="PONG")
    assert result.ok, result.reason
    assert result.observed["received"] == "+PONG\r\n"


async def test_an_expected_answer_that_never_comes_fails_with_what_was_received() -> None:
    async with redis_like_server() as port:
        result = await run(port, timeout="500ms", send="HELLO\r\n", expect="PONG")
    # The server keeps the connection open and says nothing: the probe reads until its
    # timeout, then judges what it received (nothing), rather than hanging on.
    assert result.reason is not None
    assert result.reason.code == "condition"
    assert result.reason.message == 'expected received contains "PONG", got ""'
    assert 0.45 <= result.timings["total"] < 5


async def test_a_closed_port_is_a_connect_failure() -> None:
    async with redis_like_server() as port:
        pass
    result = await run(port)
    assert result.reason is not None
    assert result.reason.code == "connect"
    assert result.reason.message == f"cannot connect to 127.0.0.1:{port}: Connection refused"
