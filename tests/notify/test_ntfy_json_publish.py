"""ntfy: JSON publishing (so non-ASCII titles are safe), priorities from severity, token secret."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from notify.servers import Reply
from notify.vendor_receivers import Request, VendorReceiver, common_headers
from opsbook.notify import DeliveryError, Link, Message, OutgoingNotification
from opsbook.notify.ntfy.config import NtfyChannelConfig
from opsbook.notify.ntfy.transport import NtfyTransport

TOKEN = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"
MESSAGE = Message(
    title="Kasse fällt aus — 🔥",
    text="Fehlerquote über 5 %",
    severity="P0",
    url="https://opsbook.example.com/incidents/7",
    fields={"service": "checkout"},
    links=tuple(Link(f"Link {i}", f"https://wiki.example.com/{i}") for i in range(5)),
    event="incident.triggered",
)


def check_publish(request: Request) -> Reply:
    """ntfy's JSON publishing (docs.ntfy.sh/publish/#publish-as-json)."""
    assert request.path == "/", "JSON is published to the server root"
    common_headers(request, idempotency_key="incident:7:triggered")
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        return Reply(401, body='{"code":40101,"http":401,"error":"unauthorized"}')
    doc = request.json()
    assert set(doc) <= {"topic", "message", "title", "tags", "priority", "actions", "click"}
    assert re.fullmatch(r"[-_A-Za-z0-9]{1,64}", doc["topic"])
    assert isinstance(doc["message"], str)
    assert isinstance(doc["title"], str)
    assert doc["priority"] in {1, 2, 3, 4, 5}
    assert all(isinstance(tag, str) for tag in doc.get("tags", []))
    actions = doc.get("actions", [])
    assert len(actions) <= 3, "ntfy allows at most three actions"
    for action in actions:
        assert action["action"] == "view"
        assert isinstance(action["label"], str)
        assert action["url"].startswith("https://")
    return Reply(200, body=json.dumps({"id": "abc", "event": "message", "topic": doc["topic"]}))


async def send(receiver: VendorReceiver, message: Message = MESSAGE) -> None:
    config = NtfyChannelConfig.model_validate(
        {
            "name": "push",
            "kind": "ntfy",
            "server": receiver.base,
            "topic": "shop-oncall-4f9c2a",
            "token": TOKEN,
            "tags": ["rotating_light"],
        }
    )
    transport = NtfyTransport(config)
    try:
        await transport.send(
            OutgoingNotification(
                notification_id=1,
                channel="push",
                message=message,
                idempotency_key="incident:7:triggered",
                target=None,
                attempt=1,
                sent_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            )
        )
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_a_notification_is_published_as_json_with_utf8_title_and_three_actions() -> None:
    with VendorReceiver(check_publish) as receiver:
        await send(receiver)
    assert receiver.problems == []
    doc = json.loads(receiver.requests[0].body.decode("utf-8"))
    assert doc["title"] == "Kasse fällt aus — 🔥"
    assert doc["message"] == "Fehlerquote über 5 %\n\nservice: checkout"
    assert doc["priority"] == 5
    assert doc["tags"] == ["rotating_light", "P0"]
    assert doc["click"] == "https://opsbook.example.com/incidents/7"
    assert [a["label"] for a in doc["actions"]] == ["Link 0", "Link 1", "Link 2"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("severity", "priority"), [("P0", 5), ("P1", 4), ("P2", 3), ("P3", 2), (None, 3)]
)
async def test_severity_maps_to_ntfy_priority(severity: str | None, priority: int) -> None:
    with VendorReceiver(check_publish) as receiver:
        await send(receiver, Message(title="x", severity=severity))
    doc = json.loads(receiver.requests[0].body)
    assert doc["priority"] == priority
    assert doc["message"] == "x"  # never empty: ntfy would say "triggered"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after"),
    [
        (Reply(401, body=f'{{"error":"unauthorized {TOKEN}"}}'), False, None),
        (Reply(403, body='{"code":40301,"error":"forbidden"}'), False, None),
        (Reply(413, body='{"error":"too large"}'), False, None),
        (Reply(429, headers={"Retry-After": "60"}, body='{"error":"limit reached"}'), True, 60),
        (Reply(507, body='{"error":"insufficient storage"}'), True, None),
    ],
)
async def test_errors_are_classified_and_the_token_is_never_shown(
    reply: Reply, retryable: bool, retry_after: int | None
) -> None:
    with VendorReceiver(check_publish) as receiver:
        receiver.replies = [reply]
        with pytest.raises(DeliveryError) as caught:
            await send(receiver)
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == (timedelta(seconds=retry_after) if retry_after else None)
    assert TOKEN not in str(caught.value)
