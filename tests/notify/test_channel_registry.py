"""Every channel kind in the registry is configured, implemented, tested and documented."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pytest

from opsbook.config.schema import CHANNEL_KINDS as SCHEMA_KINDS
from opsbook.config.values import ConfigModel
from opsbook.notify import CHANNEL_KINDS, Transport, build_transport, build_transports
from opsbook.notify.console.config import ConsoleChannelConfig
from opsbook.notify.registry import UnknownChannelKind, transport_class

TESTS = Path(__file__).parent
DOCS = TESTS.parents[1] / "docs" / "channels.md"


@pytest.mark.parametrize("kind", sorted(CHANNEL_KINDS))
def test_every_kind_has_a_config_model_transport_test_and_docs(kind: str) -> None:
    transport = CHANNEL_KINDS[kind]
    folder = kind.replace("-", "_")  # alertmanager-webhook lives in alertmanager_webhook/
    assert issubclass(transport, Transport)
    assert not inspect.isabstract(transport)
    assert transport.kind == kind
    assert transport.__module__ == f"opsbook.notify.{folder}.transport"

    model = transport.config_model
    assert issubclass(model, ConfigModel)
    assert model.__module__ == f"opsbook.notify.{folder}.config"
    assert typing.get_args(model.model_fields["kind"].annotation) == (kind,)
    assert SCHEMA_KINDS[kind] is model  # opsbook.yaml accepts the kind

    assert list(TESTS.glob(f"test_*{folder}*.py")), f"no tests/notify/test_*{folder}*.py"
    assert f"## `{kind}`" in DOCS.read_text(encoding="utf-8")


def test_the_registry_and_the_yaml_schema_know_the_same_kinds() -> None:
    assert set(CHANNEL_KINDS) == set(SCHEMA_KINDS)


def test_a_channel_config_builds_its_transport() -> None:
    config = ConsoleChannelConfig(name="console", kind="console")
    transport = build_transport(config)
    assert isinstance(transport, CHANNEL_KINDS["console"])
    assert build_transports([config]).keys() == {"console"}
    with pytest.raises(UnknownChannelKind, match='unknown channel kind "pager"'):
        transport_class("pager")
