"""The webhook channel: one signed JSON POST per notification.

What is retried follows what a retry can change: a 5xx, a 408, a 429 (after its
``Retry-After``), a timeout or a connection error may pass next time; any other 4xx
or a redirect means the request itself or the URL is wrong, so the notification is
parked dead for a person to look at instead of hammering the receiver for hours.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import httpx

from opsbook.notify.base import DeliveryError, OutgoingNotification
from opsbook.notify.http import (
    MAX_ERROR_BODY,
    RETRYABLE_STATUS,
    USER_AGENT,
    HttpTransport,
    parse_retry_after,
    read_head,
)
from opsbook.notify.webhook.config import WebhookChannelConfig
from opsbook.notify.webhook.signing import SIGNATURE_HEADER, sign

_OWN_HEADERS = frozenset(
    {"content-type", "user-agent", "idempotency-key", SIGNATURE_HEADER.lower()}
)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")


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
        # Values a receiver might echo back in an error body; scrubbed from error text.
        secrets = [config.secret.get_secret_value()] if config.secret else []
        self._scrub = [s for s in [*secrets, *config.headers.values()] if len(s) >= 4]

    async def send(self, delivery: OutgoingNotification) -> None:
        body = json.dumps(payload(delivery), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            # Opsbook's own headers win, whatever the case a configured one is written in.
            **{k: v for k, v in self.config.headers.items() if k.lower() not in _OWN_HEADERS},
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": delivery.idempotency_key,
        }
        if self.config.secret is not None:
            timestamp = int(delivery.sent_at.timestamp())
            headers[SIGNATURE_HEADER] = sign(self.config.secret.get_secret_value(), body, timestamp)
        try:
            async with self._client.stream(
                "POST",
                self.config.url,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                if response.is_success:
                    return
                # Read only the start of an error body: it is for a person, not a parser.
                head = await read_head(response, MAX_ERROR_BODY * 4)
        except httpx.TimeoutException:
            raise DeliveryError(
                f"timed out after {self.config.timeout.total_seconds():g}s", retryable=True
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise DeliveryError(
                f"invalid webhook URL: {type(exc).__name__}", retryable=False
            ) from None
        except httpx.TransportError as exc:
            raise DeliveryError(
                f"connection failed: {type(exc).__name__}: {self._clean(str(exc))}",
                retryable=True,
            ) from None
        raise self._error(response, head, delivery.sent_at)

    def _error(self, response: httpx.Response, head: bytes, sent_at: datetime) -> DeliveryError:
        status = response.status_code
        detail = self._clean(head.decode("utf-8", "replace"))
        text = f"HTTP {status}" + (f": {detail}" if detail else "")
        if response.is_redirect:
            return DeliveryError(f"{text} (redirects are not followed)", retryable=False)
        if status >= 500 or status in RETRYABLE_STATUS:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), sent_at)
            return DeliveryError(text, retryable=True, retry_after=retry_after)
        return DeliveryError(text, retryable=False)

    def _clean(self, text: str) -> str:
        text = _CONTROL_CHARS.sub(" ", text).strip()
        # The URL can carry a token in its path (many chat webhooks do), so it goes too.
        for secret in [*self._scrub, self.config.url]:
            text = text.replace(secret, "[redacted]")
        if len(text) > MAX_ERROR_BODY:
            text = text[:MAX_ERROR_BODY] + "…"
        return text
