"""Fixtures of the probe tests: async tests on asyncio, and certificates made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.probes.servers import Chain, make_chain


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def expiring_chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """Root (1 year) -> intermediate (3 days) -> leaf for 127.0.0.1/localhost (5 days)."""
    return make_chain(tmp_path_factory.mktemp("pki"), leaf_days=5, intermediate_days=3)


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki-other")
