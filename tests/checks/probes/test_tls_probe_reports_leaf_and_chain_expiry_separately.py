"""The tls probe reports the leaf's expiry and the chain's earliest expiry, trust and name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from checks.probes.servers import Chain, HttpServer, Route, self_signed
from opsbook.checks.config import CheckConfig
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check
from opsbook.checks.tls.certificates import hostname_matches

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def probe(chain: Chain, **options: Any) -> CheckResult:
    conditions = options.pop("conditions", [])
    async with HttpServer({"/": Route()}, tls=chain.server_context()) as server:
        spec = {"host": "127.0.0.1", "port": server.port, **options}
        config = CheckConfig.model_validate({"name": "cert", "tls": spec, "conditions": conditions})
        return await compile_check(config).run(started_at=NOW)


async def test_leaf_and_chain_expiry_are_separate_values(expiring_chain: Chain) -> None:
    result = await probe(expiring_chain, ca_file=str(expiring_chain.root))
    tls = result.observed["tls"]
    assert result.ok, result.reason
    assert 4.9 < tls["days_left"] <= 5
    assert 2.9 < tls["chain_days_left"] <= 3
    assert tls["chain_length"] == 3  # leaf, intermediate and the trusted root
    assert tls["chain_expires_at"] < tls["expires_at"]
    assert tls["not_after"].endswith("Z")
    assert tls["hostname_match"] is True
    assert tls["chain_valid"] is True
    assert set(result.timings) == {"dns", "connect", "tls", "total"}


async def test_min_days_fails_on_the_chain_even_when_the_leaf_is_fine(
    expiring_chain: Chain,
) -> None:
    result = await probe(expiring_chain, ca_file=str(expiring_chain.root), min_days=4)
    assert [v.ok for v in result.verdicts] == [True, True, True, False]
    assert result.reason is not None
    assert result.reason.code == "tls"
    assert re.fullmatch(
        r"expected tls.chain_days_left >= 4, got (2\.9\d*|3\.0)", result.reason.message
    )


async def test_a_wrong_server_name_is_a_name_mismatch_not_an_untrusted_chain(
    expiring_chain: Chain,
) -> None:
    result = await probe(
        expiring_chain, ca_file=str(expiring_chain.root), server_name="shop.example.com"
    )
    tls = result.observed["tls"]
    assert (tls["chain_valid"], tls["hostname_match"]) == (True, False)
    assert result.reason is not None
    assert result.reason.message == "expected tls.hostname_match == true, got false"


async def test_an_untrusted_chain_still_reports_the_certificate(tmp_path: Path) -> None:
    result = await probe(self_signed(tmp_path, days=10))
    tls = result.observed["tls"]
    assert tls["chain_valid"] is False
    assert tls["verify_error"] == "self-signed certificate"
    assert 9.9 < tls["days_left"] <= 10
    assert result.reason is not None
    assert result.reason.code == "tls"
    assert result.reason.message == "expected tls.chain_valid == true, got false"


async def test_verify_off_only_reads_the_certificate(tmp_path: Path) -> None:
    result = await probe(self_signed(tmp_path), verify=False, conditions=["tls.days_left > 14"])
    assert result.ok, result.reason
    assert result.observed["tls"]["chain_valid"] is False


async def test_nothing_listening_is_a_connect_failure() -> None:
    config = CheckConfig.model_validate({"name": "cert", "tls": {"host": "127.0.0.1", "port": 9}})
    result = await compile_check(config).run(started_at=NOW)
    assert result.reason is not None
    assert result.reason.code == "connect"


def test_hostname_matching_follows_rfc_6125() -> None:
    leaf = {"subjectAltName": (("DNS", "*.example.com"), ("IP Address", "10.0.0.1"))}
    assert hostname_matches(leaf, "shop.example.com")
    assert hostname_matches(leaf, "SHOP.example.com.")
    assert not hostname_matches(leaf, "a.b.example.com")
    assert not hostname_matches(leaf, "example.com")
    assert hostname_matches(leaf, "10.0.0.1")
    assert not hostname_matches(leaf, "10.0.0.2")
