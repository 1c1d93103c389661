"""``opsbook.notify`` exports a curated surface; changing it is a deliberate act."""

from __future__ import annotations

import opsbook.notify


def test_the_public_names_are_pinned() -> None:
    assert sorted(opsbook.notify.__all__) == [
        "CHANNEL_KINDS",
        "DeliveryError",
        "DeliveryResult",
        "Dispatcher",
        "Link",
        "Message",
        "OutgoingNotification",
        "Transport",
        "UnknownChannel",
        "build_transport",
        "build_transports",
        "notify",
    ]
    for name in opsbook.notify.__all__:
        assert getattr(opsbook.notify, name) is not None
