"""The http probe measures dns, connect, ttfb and total on a fresh connection every run."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from checks.probes.servers import HttpServer, Route
from opsbook.checks.config import CheckConfig
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
HEALTH = {"status": "ok", "services": {"database": "healthy", "cache": "degraded"}}


def http_check(url: str, **options: Any) -> CheckConfig:
    conditions = options.pop("conditions", [])
    schedule = {"timeout": options.pop("timeout", "2s"), "every": options.pop("every", "30s")}
    return CheckConfig.model_validate(
        {"name": "web", "http": {"url": url, **options}, "conditions": conditions, **schedule}
    )


async def run(config: CheckConfig) -> CheckResult:
    return await compile_check(config).run(started_at=NOW)


async def test_phases_are_measured_and_each_run_opens_a_new_connection() -> None:
    routes = {"/healthz": Route(body=b"ok", delay=0.05)}
    async with HttpServer(routes) as server:
        check = compile_check(http_check(server.url("/healthz")))
        first = await check.run(started_at=NOW)
        second = await check.run(started_at=NOW)
    assert first.ok, first.reason
    assert first.status == "up"
    assert server.connections == 2  # fresh connection per run: connect time is real
    assert set(first.timings) == {"dns", "connect", "ttfb", "total"}
    assert first.timings["dns"] == 0.0 or first.timings["dns"] < 0.01  # an address: no lookup
    assert 0.05 <= first.timings["ttfb"] < 1  # the server's delay shows up as ttfb
    assert first.timings["total"] >= first.timings["connect"] + first.timings["ttfb"]
    assert first.observed["response_time"] == first.timings["total"]
    assert second.ok
    assert server.requests[0].headers["connection"] == "close"


async def test_json_body_conditions_and_the_why_of_a_failure() -> None:
    routes = {
        "/health": Route(
            headers={"Content-Type": "application/json"},
            body=json.dumps(HEALTH).encode(),
            chunked=True,
        )
    }
    conditions = ['body.services.database == "healthy"', 'body.services.cache == "ok"']
    async with HttpServer(routes) as server:
        result = await run(http_check(server.url("/health"), conditions=conditions))
    assert result.observed["body"] == HEALTH
    assert [v.ok for v in result.verdicts] == [True, True, False]  # implicit status first
    assert result.reason is not None
    assert result.reason.code == "condition"
    assert result.reason.message == 'expected body.services.cache == "ok", got "degraded"'


async def test_unexpected_status_is_a_status_failure() -> None:
    async with HttpServer({"/": Route(503, body=b"down")}) as server:
        result = await run(http_check(server.url("/")))
        explicit = await run(http_check(server.url("/"), expect_status=[200, 503]))
    assert result.reason is not None
    assert result.reason.code == "status"
    assert result.reason.message == "expected status >= 200 and status <= 299, got 503"
    assert explicit.ok


async def test_body_contains_and_regex() -> None:
    async with HttpServer({"/": Route(body=b"build 1234 ready")}) as server:
        good = await run(http_check(server.url("/"), contains="ready", regex=r"build \d+"))
        bad = await run(http_check(server.url("/"), contains="healthy"))
    assert good.ok
    assert bad.reason is not None
    assert bad.reason.message == 'expected body_text contains "healthy", got "build 1234 ready"'


async def test_security_headers_preset_reports_each_header() -> None:
    headers = {
        "Strict-Transport-Security": "max-age=63072000",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
    }
    async with HttpServer({"/": Route(headers=headers)}) as server:
        result = await run(http_check(server.url("/"), security_headers=True))
    verdicts = {v.expression: v.ok for v in result.verdicts}
    assert verdicts == {
        "status >= 200 and status <= 299": True,
        'headers["strict-transport-security"] exists': True,
        'headers["content-security-policy"] exists': False,
        'headers["x-content-type-options"] == "nosniff"': True,
        'headers["x-frame-options"] exists': True,
        'headers["referrer-policy"] exists': False,
    }
    assert result.reason is not None
    assert result.reason.message == (
        'expected headers["content-security-policy"] exists, got nothing (no such field)'
    )


async def test_redirects_are_reported_unless_followed() -> None:
    routes = {
        "/old": Route(301, headers={"Location": "/mid"}),
        "/mid": Route(302, headers={"Location": "/new"}),
        "/new": Route(body=b"here"),
        "/loop": Route(302, headers={"Location": "/loop"}),
    }
    async with HttpServer(routes) as server:
        plain = await run(http_check(server.url("/old")))
        followed = await run(http_check(server.url("/old"), follow_redirects=True))
        looping = await run(http_check(server.url("/loop"), follow_redirects=True))
    assert plain.observed["status"] == 301
    assert not plain.ok
    assert followed.ok
    assert followed.observed["redirects"] == 2
    assert followed.observed["body_text"] == "here"
    assert looping.reason is not None
    assert looping.reason.code == "protocol"
    assert "more than 5 redirects" in looping.reason.message


async def test_post_sends_method_headers_and_body() -> None:
    async with HttpServer({"/api": Route(201)}) as server:
        options = {
            "method": "POST",
            "headers": {"X-Token": "t"},
            "body": '{"a": 1}',
            "expect_status": [201],
        }
        result = await run(http_check(server.url("/api"), **options))
    assert result.ok
    seen = server.requests[0]
    assert (seen.method, seen.headers["x-token"], seen.body) == ("POST", "t", b'{"a": 1}')


async def test_a_slow_server_times_out_with_the_phases_it_finished() -> None:
    async with HttpServer({"/slow": Route(delay=5)}) as server:
        result = await run(http_check(server.url("/slow"), timeout="300ms", every="1s"))
    assert result.reason is not None
    assert result.reason.code == "timeout"
    assert result.reason.message == "no answer within 300ms (waiting for the first byte)"
    assert "connect" in result.timings
    assert "ttfb" not in result.timings
    assert 0.3 <= result.timings["total"] < 1


async def test_a_refused_connection_and_a_broken_answer_are_explained() -> None:
    async with HttpServer({"/junk": Route(raw=b"SSH-2.0-OpenSSH\r\n\r\n")}) as server:
        junk = await run(http_check(server.url("/junk")))
        port = server.port
    await asyncio.sleep(0)
    refused = await run(http_check(f"http://127.0.0.1:{port}/"))
    assert refused.reason is not None
    assert refused.reason.code == "connect"
    assert "Connection refused" in refused.reason.message
    assert junk.reason is not None
    assert junk.reason.code == "protocol"
    assert "not an HTTP response" in junk.reason.message


async def test_an_unresolvable_name_is_a_dns_failure() -> None:
    result = await run(http_check("http://no-such-host.invalid/"))
    assert result.reason is not None
    assert result.reason.code in ("dns", "timeout")
