"""The webhook channel: one signed JSON POST per notification.

What is retried follows what a retry can change: a 5xx, a 408, a 429 (after its
``Retry-After``), a timeout or a connection error may pass next time; any other 4xx
or a redirect means the request itself or the URL is wrong, so the notification is
parked dead for a person to look at instead of hammering the receiver for hours.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from opsbook.notify.base import OutgoingNotification
from opsbook.notify.http import HttpTransport, send_json
from opsbook.notify.webhook.config import WebhookChannelConfig
from opsbook.notify.webhook.signing import SIGNATURE_HEADER, sign

_OWN_HEADERS = frozenset(
    {"content-type", "user-agent", "idempotency-key", SIGNATURE_HEADER.lower()}
)


def payload(delivery: OutgoingNotification) -> dict[str, Any]:
    """The JSON document a webhook receives."""
    return {
        "event": delivery.message.event,
        "idempotency_key": delivery.idempotency_key,
        "message": delivery.message.to_dict(),
        "sent_at": delivery.sent_at.isoformat(),
    }


class WebhookTransport(HttpTransport):
    """POSTs ``payload(delivery)`` to the configured URL.

    Pass ``client`` to share one ``httpx.AsyncClient`` (the transport then leaves
    closing it to you); otherwise the transport owns a client and :meth:`aclose`
    closes it.
    """

    kind = "webhook"
    config_model = WebhookChannelConfig

    config: WebhookChannelConfig

    def __init__(
        self, config: WebhookChannelConfig, *, client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(config, client=client)

    async def send(self, delivery: OutgoingNotification) -> None:
        await post_signed(self, payload(delivery), delivery)


async def post_signed(
    transport: HttpTransport, document: dict[str, Any], delivery: OutgoingNotification
) -> None:
    """POST ``document`` as JSON with the configured headers, signed when a secret is set.

    Shared by the kinds that are "a JSON document to a URL" (``webhook``,
    ``alertmanager-webhook``); their configs have ``url``, ``secret`` and ``headers``.
    """
    config = transport.config
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    # Opsbook's own headers win, whatever the case a configured one is written in.
    headers = {k: v for k, v in config.headers.items() if k.lower() not in _OWN_HEADERS}
    secrets = [config.secret.get_secret_value()] if config.secret else []
    if config.secret is not None:
        timestamp = int(delivery.sent_at.timestamp())
        headers[SIGNATURE_HEADER] = sign(config.secret.get_secret_value(), body, timestamp)
    # Values a receiver might echo back in an error body are scrubbed from error text;
    # the URL can carry a token in its path (many chat webhooks do), so it goes too.
    scrub = [s for s in [*secrets, *config.headers.values()] if len(s) >= 4]
    await send_json(
        transport._client,
        config.url,
        body,
        delivery,
        transport._timeout,
        extra_headers=headers,
        secrets=[*scrub, config.url],
        content_type="application/json",
    )
