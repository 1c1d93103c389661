"""Over https the http probe times the TLS handshake and reports the certificate's expiry."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checks.probes.servers import Chain, HttpServer, Route, self_signed
from opsbook.checks.config import CheckConfig
from opsbook.checks.runner import compile_check

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def https_check(url: str, **options: object) -> CheckConfig:
    conditions = options.pop("conditions", [])
    return CheckConfig.model_validate(
        {"name": "site", "http": {"url": url, **options}, "conditions": conditions}
    )


async def test_a_soon_expiring_certificate_fails_a_days_left_condition(
    expiring_chain: Chain,
) -> None:
    async with HttpServer({"/": Route()}, tls=expiring_chain.server_context()) as server:
        config = https_check(
            server.url("/"), ca_file=str(expiring_chain.root), conditions=["tls.days_left > 14"]
        )
        result = await compile_check(config).run(started_at=NOW)
    assert set(result.timings) == {"dns", "connect", "tls", "ttfb", "total"}
    assert result.timings["tls"] > 0
    tls = result.observed["tls"]
    assert 4.9 < tls["days_left"] <= 5
    assert 2.9 < tls["chain_days_left"] <= 3  # the intermediate expires first
    assert tls["chain_valid"] is True
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["subject"] == "CN=localhost"
    assert tls["issuer"] == "CN=Opsbook Test Intermediate"
    assert result.reason is not None
    assert result.reason.code == "condition"
    assert re.fullmatch(r"expected tls.days_left > 14, got (4\.9\d*|5\.0)", result.reason.message)


async def test_an_untrusted_certificate_is_a_tls_failure_unless_verification_is_off(
    tmp_path: Path,
) -> None:
    untrusted = self_signed(tmp_path)
    async with HttpServer({"/": Route()}, tls=untrusted.server_context()) as server:
        verified = await compile_check(https_check(server.url("/"))).run(started_at=NOW)
        unverified = await compile_check(https_check(server.url("/"), tls_verify=False)).run(
            started_at=NOW
        )
    assert verified.reason is not None
    assert verified.reason.code == "tls"
    assert verified.reason.message == "certificate verify failed: self-signed certificate"
    assert "connect" in verified.timings  # the phases before the failure are kept
    assert unverified.ok, unverified.reason
    assert unverified.observed["tls"]["chain_valid"] is None  # not checked
    assert 29 < unverified.observed["tls"]["days_left"] <= 30
