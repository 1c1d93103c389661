"""Fixtures of the channel tests: async tests on asyncio, and a live webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notify.servers import WebhookReceiver
from opsbook.core.clock import FakeClock

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[WebhookReceiver]:
    """A running webhook receiver that checks signatures against the fake clock."""
    receiver = WebhookReceiver(secret=WEBHOOK_SECRET, clock=clock)
    receiver.start()
    yield receiver
    receiver.stop()
