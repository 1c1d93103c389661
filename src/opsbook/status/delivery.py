"""The outbox transport of webhook subscribers: signed JSON to each subscriber's URL.

Outbox rows of channel :data:`~opsbook.status.subscribers.WEBHOOK_CHANNEL` name the
subscriber (``target`` is its id).  At send time the transport reads the subscriber's
URL and secret (a short read, no transaction held across the POST): a subscriber
removed since the update was queued is skipped, and its secret never sits in the
outbox.  Body and signature are the webhook channel's (``Opsbook-Signature``, see
docs/channels.md), so one receiver can verify both.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import structlog

from opsbook.core.db import Database
from opsbook.notify.base import DeliveryError, OutgoingNotification, Transport
from opsbook.notify.http import send_json
from opsbook.notify.webhook.signing import SIGNATURE_HEADER, sign
from opsbook.notify.webhook.transport import payload
from opsbook.status.models import Subscriber

log = structlog.get_logger(__name__)
TIMEOUT = httpx.Timeout(10.0)


class SubscriberWebhookTransport(Transport):
    kind = "status_webhook"
    config_model = object

    def __init__(self, db: Database, *, client: httpx.AsyncClient | None = None) -> None:
        self.db = db
        self._own = client is None
        self._client = client or httpx.AsyncClient()

    def _endpoint(self, subscriber_id: int) -> tuple[str, str, str] | None:
        with self.db.read_session() as session:
            row = session.get(Subscriber, subscriber_id)
            if row is None:
                return None
            return row.state, row.address, row.secret or ""

    async def send(self, delivery: OutgoingNotification) -> None:
        if not (delivery.target or "").isdigit():
            raise DeliveryError(f"not a subscriber id: {delivery.target!r}", retryable=False)
        found = await asyncio.to_thread(self._endpoint, int(delivery.target or 0))
        if found is None or found[0] != "active":
            log.info("status.webhook_skipped", subscriber=delivery.target, reason="not active")
            return
        _, url, secret = found
        body = json.dumps(payload(delivery), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {SIGNATURE_HEADER: sign(secret, body, int(delivery.sent_at.timestamp()))}
        await send_json(
            self._client,
            url,
            body,
            delivery,
            TIMEOUT,
            extra_headers=headers,
            secrets=[secret],
            content_type="application/json",
        )

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()


def status_transports(db: Database) -> dict[str, Transport]:
    """The outbox channels the status page adds to the configured ones."""
    from opsbook.status.subscribers import WEBHOOK_CHANNEL

    return {WEBHOOK_CHANNEL: SubscriberWebhookTransport(db)}
