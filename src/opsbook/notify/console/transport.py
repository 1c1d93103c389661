"""The console channel: notifications written to the process's standard output.

It needs no setup and cannot fail for reasons outside the process, which makes it
the channel of the demo and of a first ``opsbook.yaml``.
"""

from __future__ import annotations

import sys
from typing import TextIO

from opsbook.notify.base import DeliveryError, OutgoingNotification, Transport, render_text
from opsbook.notify.console.config import ConsoleChannelConfig

_RULE = "─" * 60


class ConsoleTransport(Transport):
    """Prints each notification, framed, to ``stream`` (standard output by default)."""

    kind = "console"
    config_model = ConsoleChannelConfig

    def __init__(self, config: ConsoleChannelConfig, *, stream: TextIO | None = None) -> None:
        self.config = config
        self._stream = stream

    async def send(self, delivery: OutgoingNotification) -> None:
        # sys.stdout is looked up per send: it may be replaced after start-up.
        stream = self._stream or sys.stdout
        header = (
            f"{delivery.sent_at:%Y-%m-%d %H:%M:%S}Z  {self.config.name}  {delivery.message.event}"
        )
        if delivery.target:
            header += f"  → {delivery.target}"
        try:
            stream.write(f"{_RULE}\n{header}\n{render_text(delivery.message)}{_RULE}\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed or broken stream (EPIPE)
            raise DeliveryError(f"cannot write to the console: {exc}", retryable=True) from None
