"""`opsbook init`'s starter file validates and shows every key that exists."""

import re
import typing
from pathlib import Path
from typing import Any

from opsbook.config import (
    CHANNEL_KINDS,
    ConfigModel,
    OpsbookConfig,
    load_config_text,
    starter_config,
)

REPO = Path(__file__).resolve().parents[2]


def all_models(model: type[ConfigModel], seen: set[type[ConfigModel]]) -> set[type[ConfigModel]]:
    if model in seen:
        return seen
    seen.add(model)
    for field in model.model_fields.values():
        for found in nested_models(field.annotation):
            all_models(found, seen)
    return seen


def nested_models(annotation: Any) -> list[type[ConfigModel]]:
    if isinstance(annotation, type) and issubclass(annotation, ConfigModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in nested_models(arg)]


def every_key() -> set[str]:
    models = all_models(OpsbookConfig, set())
    for kind_model in CHANNEL_KINDS.values():
        all_models(kind_model, models)
    return {key for model in models for key in model.yaml_keys()}


def test_starter_file_validates_without_any_environment() -> None:
    config = load_config_text(starter_config(), filename="starter.yaml", env={})
    assert config.service.name == "Example Shop"
    assert {channel.kind for channel in config.channels} == set(CHANNEL_KINDS)


def test_starter_file_shows_every_key_of_every_section() -> None:
    written = set(re.findall(r"^[ #-]*([A-Za-z_][A-Za-z0-9_]*):", starter_config(), re.MULTILINE))
    missing = every_key() - written
    assert not missing, f"add these keys to src/opsbook/config/starter.yaml: {sorted(missing)}"


def test_reference_documents_every_key_and_channel_kind() -> None:
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_-]*)`", reference))  # kinds may have -
    missing = (every_key() | set(CHANNEL_KINDS)) - documented
    assert not missing, f"document these keys in docs/configuration.md: {sorted(missing)}"


def test_the_key_walk_sees_nested_and_secret_keys() -> None:
    keys = every_key()
    assert {"smtp", "security", "password_file", "secret_file", "lease", "escalate_to"} <= keys
