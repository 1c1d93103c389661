"""slack: Block Kit through an incoming webhook, within Slack's limits, URL kept secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from notify.servers import Reply
from notify.vendor_receivers import Request, VendorReceiver, common_headers
from opsbook.config import ConfigError, load_config, load_config_text
from opsbook.notify import DeliveryError, Link, Message, OutgoingNotification
from opsbook.notify.slack.config import SlackChannelConfig
from opsbook.notify.slack.transport import SlackTransport

SHOP = "service: {name: Shop}\nchannels:\n"
HOOK_PATH = "/services/T0001/B0001/s3cr3tT0kenXYZ"
MESSAGE = Message(
    title="checkout <is> failing & paging",
    text="Error rate > 5% for *5 minutes* <!channel>",
    severity="P1",
    url="https://opsbook.example.com/incidents/7",
    fields={"service": "checkout", "region": "eu-west-1"},
    links=(Link("Runbook", "https://wiki.example.com/checkout"), Link("Bad", "javascript:x")),
    event="incident.triggered",
)


def check_block_kit(request: Request) -> Reply:
    """Slack's documented shape: api.slack.com/reference/block-kit/blocks."""
    assert request.path == HOOK_PATH
    common_headers(request, idempotency_key="incident:7:triggered")
    doc = request.json()
    assert set(doc) <= {"text", "blocks"}, "incoming webhooks take no channel override"
    assert isinstance(doc["text"], str)
    assert doc["text"]
    blocks = doc["blocks"]
    assert isinstance(blocks, list)
    assert 0 < len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            plain(block["text"], 150)
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                mrkdwn(block["text"], 3000)
            for field in block.get("fields", []):
                mrkdwn(field, 2000)
            assert len(block.get("fields", [])) <= 10
        elif kind == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                mrkdwn(element, 3000)
        elif kind == "actions":
            elements = block["elements"]
            assert 0 < len(elements) <= 25
            assert len({e["action_id"] for e in elements}) == len(elements), "action_id unique"
            for button in elements:
                assert button["type"] == "button"
                plain(button["text"], 75)
                assert button["url"].startswith(("https://", "http://"))
                assert len(button["url"]) <= 3000
        else:
            raise AssertionError(f"unexpected block type {kind}")
    return Reply(200, body="ok")


def plain(text: Any, limit: int) -> None:
    assert text["type"] == "plain_text", text
    assert 0 < len(text["text"]) <= limit, text


def mrkdwn(text: Any, limit: int) -> None:
    assert text["type"] == "mrkdwn", text
    assert 0 < len(text["text"]) <= limit, text
    raw = text["text"].replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    assert not set("<>&") & set(raw), f"unescaped control character in {text['text']!r}"


def config(receiver: VendorReceiver) -> SlackChannelConfig:
    return SlackChannelConfig.model_validate(
        {"name": "chat", "kind": "slack", "webhook_url": receiver.base + HOOK_PATH}
    )


def outgoing(message: Message = MESSAGE) -> OutgoingNotification:
    return OutgoingNotification(
        notification_id=1,
        channel="chat",
        message=message,
        idempotency_key="incident:7:triggered",
        target=None,
        attempt=1,
        sent_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    )


async def send(receiver: VendorReceiver, message: Message = MESSAGE) -> None:
    transport = SlackTransport(config(receiver))
    try:
        await transport.send(outgoing(message))
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_a_notification_is_a_valid_block_kit_message() -> None:
    with VendorReceiver(check_block_kit) as receiver:
        await send(receiver)
    assert receiver.problems == []
    blocks = json.loads(receiver.requests[0].body)["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"]["text"] == "[P1] checkout <is> failing & paging"  # plain_text
    assert blocks[1]["text"]["text"] == (
        "Error rate &gt; 5% for *5 minutes* &lt;!channel&gt;"  # no @channel ping
    )
    assert blocks[2]["fields"][0]["text"] == "*service*\ncheckout"
    assert blocks[3]["elements"][0]["text"] == "*Severity:* P1"
    buttons = [(b["text"]["text"], b["url"]) for b in blocks[4]["elements"]]
    assert buttons == [  # the javascript: link is dropped
        ("Runbook", "https://wiki.example.com/checkout"),
        ("Open in Opsbook", "https://opsbook.example.com/incidents/7"),
    ]


@pytest.mark.anyio
async def test_long_and_numerous_parts_are_cut_to_slacks_limits() -> None:
    message = Message(
        title="t" * 400,
        text="&" * 5000,  # escapes to 25,000 characters
        fields={f"field{i}": "v" * 3000 for i in range(23)},
        links=tuple(Link("L" * 200, f"https://example.com/{i}") for i in range(40)),
    )
    with VendorReceiver(check_block_kit) as receiver:
        await send(receiver, message)
    assert receiver.problems == []
    blocks = json.loads(receiver.requests[0].body)["blocks"]
    assert blocks[1]["text"]["text"].endswith("&amp;…")  # never half an entity
    assert [len(b.get("fields", [])) for b in blocks if b["type"] == "section"] == [0, 10, 10, 3]
    assert len(blocks[-1]["elements"]) == 25


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "retryable", "retry_after"),
    [
        (Reply(400, body="invalid_payload"), False, None),
        (Reply(403, body="action_prohibited"), False, None),
        (Reply(404, body="no_service"), False, None),
        (Reply(410, body="channel_is_archived"), False, None),
        (Reply(429, headers={"Retry-After": "30"}, body="rate_limited"), True, 30),
        (Reply(500, body="rollup_error"), True, None),
        (Reply(503, body=f"down, see {HOOK_PATH}"), True, None),
        (Reply(302, headers={"Location": "https://elsewhere.example.com/"}), False, None),
    ],
)
async def test_errors_are_classified_and_never_show_the_webhook_url(
    reply: Reply, retryable: bool, retry_after: int | None
) -> None:
    with VendorReceiver(check_block_kit) as receiver:
        receiver.replies = [
            Reply(reply.status, reply.headers, f"{reply.body} {receiver.base}{HOOK_PATH}")
        ]
        with pytest.raises(DeliveryError) as caught:
            await send(receiver)
    error = caught.value
    assert error.retryable is retryable
    assert error.retry_after == (timedelta(seconds=retry_after) if retry_after else None)
    assert str(reply.status) in str(error)
    assert "s3cr3tT0ken" not in str(error)
    assert reply.body.split(" ")[0] in str(error)


@pytest.mark.anyio
async def test_an_unreachable_webhook_is_retried_without_showing_its_url() -> None:
    with VendorReceiver(check_block_kit) as receiver:
        hook = config(receiver)
    transport = SlackTransport(hook)  # the receiver is gone: connection refused
    try:
        with pytest.raises(DeliveryError) as caught:
            await transport.send(outgoing())
    finally:
        await transport.aclose()
    assert caught.value.retryable
    assert "s3cr3tT0ken" not in str(caught.value)


def test_the_webhook_url_is_a_secret_that_can_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "slack_url").write_text("https://hooks.slack.com" + HOOK_PATH + "\n")
    yaml = SHOP + "  - {name: chat, kind: slack, webhook_url_file: slack_url}\n"
    (tmp_path / "opsbook.yaml").write_text(yaml)
    loaded = load_config(tmp_path / "opsbook.yaml", env={})
    chat = loaded.channels[0]
    assert isinstance(chat, SlackChannelConfig)
    assert chat.webhook_url.get_secret_value().endswith(HOOK_PATH)
    assert "s3cr3tT0ken" not in repr(loaded)
    with pytest.raises(ConfigError) as caught:
        load_config_text(SHOP + "  - {name: c, kind: slack, webhook_url: ftp://x/s3cr3tT0ken}\n")
    assert "s3cr3tT0ken" not in str(caught.value)
    with pytest.raises(ConfigError, match="channel"):
        load_config_text(
            SHOP + "  - {name: c, kind: slack, webhook_url: 'https://x/y', channel: '#ops'}\n"
        )
