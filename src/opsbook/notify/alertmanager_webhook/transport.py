"""The alertmanager-webhook channel: one POST of Alertmanager's webhook JSON per notification.

A notification from the alert pipeline carries the payload ready in ``message.data``
(built by :func:`opsbook.alerts.payloads.webhook_v4`); anything else sent to such a
channel (an incident notice, say) is wrapped as one firing alert, so the receiver always
gets the format it was written for.  Failures are classified as for the webhook channel.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from opsbook.notify.alertmanager_webhook.client import ClientError, LeanClient
from opsbook.notify.alertmanager_webhook.config import AlertmanagerWebhookChannelConfig
from opsbook.notify.base import DeliveryError, OutgoingNotification
from opsbook.notify.http import MAX_ERROR_BODY, USER_AGENT, HttpTransport, classify_status, clean
from opsbook.notify.webhook.signing import SIGNATURE_HEADER, sign
from opsbook.notify.webhook.transport import _OWN_HEADERS, post_signed

_ZERO = "0001-01-01T00:00:00Z"


def payload(delivery: OutgoingNotification, receiver: str) -> dict[str, Any]:
    """The JSON the receiver gets: the pipeline's, or the message wrapped as one alert."""
    message = delivery.message
    if message.data.get("version") == "4":
        return dict(message.data)
    resolved = message.event.endswith("resolved")
    labels = {"alertname": message.event, **message.fields}
    if message.severity:
        labels["severity"] = message.severity
    annotations = {"summary": message.title}
    if message.text:
        annotations["description"] = message.text
    started = delivery.sent_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    alert = {
        "status": "resolved" if resolved else "firing",
        "labels": dict(sorted(labels.items())),
        "annotations": annotations,
        "startsAt": started,
        "endsAt": started if resolved else _ZERO,
        "generatorURL": message.url or "",
        "fingerprint": delivery.idempotency_key[:16],
    }
    return {
        "receiver": receiver,
        "status": alert["status"],
        "alerts": [alert],
        "groupLabels": {"alertname": message.event},
        "commonLabels": alert["labels"],
        "commonAnnotations": annotations,
        "externalURL": "",
        "version": "4",
        "groupKey": f"{{}}:{{alertname={json.dumps(message.event)}}}",
        "truncatedAlerts": 0,
    }


class AlertmanagerWebhookTransport(HttpTransport):
    """Posts with :class:`~opsbook.notify.alertmanager_webhook.client.LeanClient` to an
    ``http://`` URL, with httpx to an ``https://`` one (or when a test lends a client)."""

    kind = "alertmanager-webhook"
    config_model = AlertmanagerWebhookChannelConfig

    config: AlertmanagerWebhookChannelConfig

    def __init__(
        self, config: AlertmanagerWebhookChannelConfig, *, client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(config, client=client)
        lean = client is None and config.url.lower().startswith("http://")
        self._lean = LeanClient() if lean else None

    async def send(self, delivery: OutgoingNotification) -> None:
        document = payload(delivery, self.config.name)
        if self._lean is None:
            await post_signed(self, document, delivery)
            return
        await self._post_lean(self._lean, document, delivery)

    async def _post_lean(
        self, client: LeanClient, document: dict[str, Any], delivery: OutgoingNotification
    ) -> None:
        """What :func:`post_signed` does, over the lean client: same headers, same rules."""
        config = self.config
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {k: v for k, v in config.headers.items() if k.lower() not in _OWN_HEADERS}
        scrub = [s for s in config.headers.values() if len(s) >= 4]
        if config.secret is not None:
            secret = config.secret.get_secret_value()
            headers[SIGNATURE_HEADER] = sign(secret, body, int(delivery.sent_at.timestamp()))
            scrub.append(secret)
        headers["Content-Type"] = "application/json"
        headers["User-Agent"] = USER_AGENT
        headers["Idempotency-Key"] = delivery.idempotency_key
        secrets = [*scrub, config.url]
        timeout = config.timeout.total_seconds()
        try:
            async with asyncio.timeout(timeout):
                answer = await client.post(config.url, body, headers)
        except TimeoutError:
            raise DeliveryError(f"timed out after {timeout:g}s", retryable=True) from None
        except (OSError, ClientError, ValueError, asyncio.IncompleteReadError) as exc:
            raise DeliveryError(
                f"connection failed: {type(exc).__name__}: {clean(str(exc), secrets)}",
                retryable=True,
            ) from None
        if 200 <= answer.status < 300:
            return
        detail = clean(answer.body[: MAX_ERROR_BODY * 4].decode("utf-8", "replace"), secrets)
        raise classify_status(
            answer.status,
            detail,
            delivery.sent_at,
            redirect=answer.is_redirect,
            retry_after=answer.headers.get("retry-after"),
        )

    async def aclose(self) -> None:
        if self._lean is not None:
            await self._lean.aclose()
        await super().aclose()
