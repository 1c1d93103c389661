"""Report tests: people in two time zones, a service zone of their own."""

from __future__ import annotations

import pytest

from opsbook.config.loader import load_config_text
from opsbook.config.schema import OpsbookConfig

REPORT_CONFIG = """\
service: {name: shop, timezone: Europe/Berlin}
people:
  - {id: alice, name: Alice, email: alice@example.com, timezone: Europe/London}
  - {id: bob, name: Bob, email: bob@example.com, timezone: America/New_York}
  - {id: carol, name: Carol, email: carol@example.com}
channels:
  - {name: incidents, kind: console}
  - {name: leads, kind: console}
severities:
  P1:
    escalate_to: [channel:leads]
"""


@pytest.fixture
def config() -> OpsbookConfig:
    return load_config_text(REPORT_CONFIG)
