"""The alertmanager-webhook channel: one POST of Alertmanager's webhook JSON per notification.

A notification from the alert pipeline carries the payload ready in ``message.data``
(built by :func:`opsbook.alerts.payloads.webhook_v4`); anything else sent to such a
channel (an incident notice, say) is wrapped as one firing alert, so the receiver always
gets the format it was written for.  Failures are classified as for the webhook channel.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from opsbook.notify.alertmanager_webhook.config import AlertmanagerWebhookChannelConfig
from opsbook.notify.base import OutgoingNotification
from opsbook.notify.http import HttpTransport
from opsbook.notify.webhook.transport import post_signed

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
    kind = "alertmanager-webhook"
    config_model = AlertmanagerWebhookChannelConfig

    config: AlertmanagerWebhookChannelConfig

    def __init__(
        self, config: AlertmanagerWebhookChannelConfig, *, client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(config, client=client)

    async def send(self, delivery: OutgoingNotification) -> None:
        await post_signed(self, payload(delivery, self.config.name), delivery)
