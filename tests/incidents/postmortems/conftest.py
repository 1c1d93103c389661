"""Postmortem tests: the incidents config plus people (owners of action items)."""

from __future__ import annotations

import pytest
from incidents_support import PEOPLE_CONFIG

from opsbook.config.loader import load_config_text
from opsbook.config.schema import OpsbookConfig


@pytest.fixture
def config() -> OpsbookConfig:
    return load_config_text(PEOPLE_CONFIG)
