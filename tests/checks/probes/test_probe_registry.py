"""Every probe kind in the registry is configured, implemented, tested and documented."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from opsbook.checks.base import Probe
from opsbook.checks.config import CHECK_KINDS, CheckConfig
from opsbook.checks.registry import PROBE_KINDS
from opsbook.config.values import ConfigModel

TESTS = Path(__file__).parent
DOCS = TESTS.parents[2] / "docs" / "checks.md"


@pytest.mark.parametrize("kind", sorted(PROBE_KINDS))
def test_every_kind_has_a_config_model_probe_tests_and_docs(kind: str) -> None:
    probe = PROBE_KINDS[kind]
    assert issubclass(probe, Probe)
    assert not inspect.isabstract(probe)
    assert probe.kind == kind
    assert probe.__module__ == f"opsbook.checks.{kind}.probe"
    model = probe.config_model
    assert issubclass(model, ConfigModel)
    assert model.__module__ == f"opsbook.checks.{kind}.config"
    # opsbook.yaml accepts the kind as a key of a check, with this model.
    assert CheckConfig.model_fields[kind].annotation == model | None
    assert list(TESTS.glob(f"test_*{kind}*.py")), f"no tests/checks/probes/test_*{kind}*.py"
    assert f"## `{kind}`" in DOCS.read_text(encoding="utf-8")


def test_every_check_kind_but_heartbeat_is_a_probe() -> None:
    assert set(CHECK_KINDS) - set(PROBE_KINDS) == {"heartbeat"}
    assert "## `heartbeat`" in DOCS.read_text(encoding="utf-8")


def test_every_reason_code_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for code in (
        "timeout",
        "dns",
        "connect",
        "tls",
        "protocol",
        "status",
        "condition",
        "query",
        "error",
        "canary",
    ):
        assert f"| `{code}` |" in text
