"""teams: an Adaptive Card in a Workflows webhook message; 202 is delivered, URL secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from notify.servers import Reply
from notify.vendor_receivers import Request, VendorReceiver, common_headers
from opsbook.notify import DeliveryError, Link, Message, OutgoingNotification
from opsbook.notify.teams.config import TeamsChannelConfig
from opsbook.notify.teams.transport import TeamsTransport

FLOW_PATH = "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=SiGnAtUrE123"
MESSAGE = Message(
    title="checkout is failing",
    text="Error rate above 5% for 5 minutes.",
    severity="P1",
    url="https://opsbook.example.com/incidents/7",
    fields={"service": "checkout"},
    links=(Link("Runbook", "https://wiki.example.com/checkout"),),
    event="incident.triggered",
)


def check_card(request: Request) -> Reply:
    """The Workflows 'post card' shape and the Adaptive Card 1.4 schema's required keys."""
    assert request.path == FLOW_PATH
    common_headers(request, idempotency_key="incident:7:triggered")
    doc = request.json()
    assert doc["type"] == "message"
    [attachment] = doc["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["body"], "a card needs a body"
    for element in card["body"]:
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str)
            assert element["text"]
            assert element.get("wrap") is True
        elif element["type"] == "FactSet":
            for fact in element["facts"]:
                assert set(fact) == {"title", "value"}
                assert all(isinstance(v, str) for v in fact.values())
        else:
            raise AssertionError(f"unexpected element {element['type']}")
    for action in card.get("actions", []):
        assert action["type"] == "Action.OpenUrl"
        assert isinstance(action["title"], str)
        assert action["url"].startswith("https://")
    return Reply(202, body="")


async def send(receiver: VendorReceiver) -> None:
    config = TeamsChannelConfig.model_validate(
        {"name": "teams", "kind": "teams", "webhook_url": receiver.base + FLOW_PATH}
    )
    transport = TeamsTransport(config)
    try:
        await transport.send(
            OutgoingNotification(
                notification_id=1,
                channel="teams",
                message=MESSAGE,
                idempotency_key="incident:7:triggered",
                target=None,
                attempt=1,
                sent_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            )
        )
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_a_notification_is_an_adaptive_card_and_202_means_delivered() -> None:
    with VendorReceiver(check_card) as receiver:
        await send(receiver)
    assert receiver.problems == []
    card = json.loads(receiver.requests[0].body)["attachments"][0]["content"]
    title, text, facts = card["body"]
    assert (title["text"], title["weight"], title["size"]) == (
        "[P1] checkout is failing",
        "Bolder",
        "Medium",
    )
    assert text["text"] == MESSAGE.text
    assert facts["facts"] == [
        {"title": "Severity", "value": "P1"},
        {"title": "service", "value": "checkout"},
    ]
    assert [(a["title"], a["url"]) for a in card["actions"]] == [
        ("Runbook", "https://wiki.example.com/checkout"),
        ("Open in Opsbook", "https://opsbook.example.com/incidents/7"),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after"),
    [
        (Reply(400, body="InvalidRequestContent"), False, None),
        (Reply(401, body="DirectApiAuthorizationRequired"), False, None),
        (Reply(404, body="WorkflowNotFound"), False, None),
        (Reply(429, headers={"Retry-After": "12"}, body="WorkflowRequestsThrottled"), True, 12),
        (Reply(502, body="BadGateway"), True, None),
    ],
)
async def test_errors_are_classified_and_never_show_the_signed_url(
    reply: Reply, retryable: bool, retry_after: int | None
) -> None:
    with VendorReceiver(check_card) as receiver:
        receiver.replies = [Reply(reply.status, reply.headers, f"{reply.body} {FLOW_PATH}")]
        with pytest.raises(DeliveryError) as caught:
            await send(receiver)
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == (timedelta(seconds=retry_after) if retry_after else None)
    assert reply.body in str(caught.value)
    assert "SiGnAtUrE123" not in str(caught.value)
