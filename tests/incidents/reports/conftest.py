"""Report tests: people in two time zones, and one in the service's."""

from __future__ import annotations

import pytest
from incidents_support import PEOPLE_CONFIG

from opsbook.config.loader import load_config_text
from opsbook.config.schema import OpsbookConfig


@pytest.fixture
def config() -> OpsbookConfig:
    return load_config_text(PEOPLE_CONFIG)
