"""The alertmanager-webhook channel posts Alertmanager's webhook JSON (version 4) as it is,
signed when it has a secret, and wraps other notifications as one alert."""

from __future__ import annotations

import json

import pytest

from notify.conftest import WEBHOOK_SECRET
from notify.servers import WebhookReceiver
from opsbook.alerts.payloads import GroupAlert, webhook_v4
from opsbook.core.clock import FakeClock
from opsbook.notify.alertmanager_webhook.config import AlertmanagerWebhookChannelConfig
from opsbook.notify.alertmanager_webhook.transport import AlertmanagerWebhookTransport
from opsbook.notify.base import DeliveryError, OutgoingNotification
from opsbook.notify.message import Message

pytestmark = pytest.mark.anyio


def _delivery(message: Message, clock: FakeClock) -> OutgoingNotification:
    return OutgoingNotification(
        notification_id=1,
        channel="am",
        message=message,
        idempotency_key="alerts:7:1:am",
        target=None,
        attempt=1,
        sent_at=clock.now(),
    )


async def test_a_group_notification_arrives_as_alertmanager_sends_it(
    receiver: WebhookReceiver, clock: FakeClock
) -> None:
    payload = webhook_v4(
        receiver="am",
        alerts=[
            GroupAlert(
                id=1,
                labels={"alertname": "Down", "service": "api"},
                annotations={"summary": "api is down"},
                starts_at=clock.now(),
                ends_at=None,
                generator_url="",
                resolved=False,
            )
        ],
        truncated=0,
        group_labels={"alertname": "Down"},
        group_key='{}:{alertname="Down"}',
        external_url="https://opsbook.example.com",
    )
    config = AlertmanagerWebhookChannelConfig(
        name="am",
        kind="alertmanager-webhook",
        url=receiver.url,
        secret=WEBHOOK_SECRET,
        headers={"Authorization": "Bearer receiver-token"},
    )
    transport = AlertmanagerWebhookTransport(config)
    try:
        await transport.send(_delivery(Message(title="x", data=payload), clock))
    finally:
        await transport.aclose()
    [request] = receiver.requests
    assert json.loads(request.body) == payload
    assert list(json.loads(request.body)) == [
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    ]
    assert request.signature_ok
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer receiver-token"
    assert request.headers["idempotency-key"] == "alerts:7:1:am"


async def test_other_notifications_are_wrapped_as_one_alert(
    receiver: WebhookReceiver, clock: FakeClock
) -> None:
    config = AlertmanagerWebhookChannelConfig(
        name="am", kind="alertmanager-webhook", url=receiver.url, secret=WEBHOOK_SECRET
    )
    transport = AlertmanagerWebhookTransport(config)
    message = Message(
        title="[P1] #4 Checkout is failing",
        text="5xx above 5%",
        severity="P1",
        event="incident.triggered",
        fields={"service": "checkout"},
    )
    try:
        await transport.send(_delivery(message, clock))
    finally:
        await transport.aclose()
    body = json.loads(receiver.requests[0].body)
    assert body["version"] == "4"
    assert body["status"] == "firing"
    [alert] = body["alerts"]
    assert alert["labels"] == {
        "alertname": "incident.triggered",
        "service": "checkout",
        "severity": "P1",
    }
    assert alert["annotations"] == {
        "summary": "[P1] #4 Checkout is failing",
        "description": "5xx above 5%",
    }
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"


async def test_a_refusing_receiver_is_classified_like_the_webhook_channel(
    receiver: WebhookReceiver, clock: FakeClock
) -> None:
    from notify.servers import Reply

    receiver.replies = [Reply(status=503), Reply(status=400)]
    config = AlertmanagerWebhookChannelConfig(
        name="am", kind="alertmanager-webhook", url=receiver.url, secret=WEBHOOK_SECRET
    )
    transport = AlertmanagerWebhookTransport(config)
    try:
        with pytest.raises(DeliveryError) as retry:
            await transport.send(_delivery(Message(title="x"), clock))
        assert retry.value.retryable
        with pytest.raises(DeliveryError) as dead:
            await transport.send(_delivery(Message(title="x"), clock))
        assert not dead.value.retryable
    finally:
        await transport.aclose()
