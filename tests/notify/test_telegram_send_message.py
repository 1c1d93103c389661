"""telegram: Bot API sendMessage in HTML mode; flood control honoured; token never shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from notify.servers import Reply
from notify.vendor_receivers import Request, VendorReceiver, common_headers
from opsbook.config import ConfigError, load_config_text
from opsbook.notify import DeliveryError, Link, Message, OutgoingNotification
from opsbook.notify.telegram.config import TelegramChannelConfig
from opsbook.notify.telegram.transport import TelegramTransport

TOKEN = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
MESSAGE = Message(
    title="checkout <b>is</b> failing",
    text="Error rate > 5% & rising",
    severity="P1",
    url="https://opsbook.example.com/incidents/7",
    fields={"service": "checkout"},
    links=(Link("Runbook", "https://wiki.example.com/checkout"),),
    event="incident.triggered",
)


class _TagCheck(HTMLParser):
    """Telegram's HTML mode accepts a few tags; Opsbook only uses <b>."""

    def handle_starttag(self, tag: str, attrs: object) -> None:
        assert tag == "b", f"unsupported tag <{tag}>"


def ok(request: Request) -> Reply:
    """sendMessage's documented parameters (core.telegram.org/bots/api#sendmessage)."""
    if request.path != f"/bot{TOKEN}/sendMessage":
        body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        return Reply(401, body=json.dumps(body))
    common_headers(request, idempotency_key="incident:7:triggered")
    doc = request.json()
    assert isinstance(doc["chat_id"], int | str)
    assert isinstance(doc["text"], str)
    assert 1 <= len(doc["text"]) <= 4096
    assert doc["parse_mode"] == "HTML"
    _TagCheck().feed(doc["text"])
    assert doc["link_preview_options"] == {"is_disabled": True}
    for row in doc.get("reply_markup", {"inline_keyboard": []})["inline_keyboard"]:
        for button in row:
            assert set(button) == {"text", "url"}
            assert button["url"].startswith("https://")
    result = {"message_id": 1, "date": 0, "chat": {"id": doc["chat_id"], "type": "group"}}
    return Reply(200, body=json.dumps({"ok": True, "result": result}))


async def send(receiver: VendorReceiver, message: Message = MESSAGE, token: str = TOKEN) -> None:
    config = TelegramChannelConfig.model_validate(
        {
            "name": "tg",
            "kind": "telegram",
            "bot_token": token,
            "chat_id": -1001234567890,
            "api_base": receiver.base,
        }
    )
    transport = TelegramTransport(config)
    try:
        await transport.send(
            OutgoingNotification(
                notification_id=1,
                channel="tg",
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
async def test_send_message_is_escaped_html_with_link_buttons() -> None:
    with VendorReceiver(ok) as receiver:
        await send(receiver)
    assert receiver.problems == []
    doc = json.loads(receiver.requests[0].body)
    assert doc["chat_id"] == -1001234567890
    assert doc["text"] == (
        "<b>[P1] checkout &lt;b&gt;is&lt;/b&gt; failing</b>\n\n"
        "Error rate &gt; 5% &amp; rising\n\n<b>service:</b> checkout"
    )
    assert doc["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Runbook", "url": "https://wiki.example.com/checkout"}],
            [{"text": "Open in Opsbook", "url": "https://opsbook.example.com/incidents/7"}],
        ]
    }


@pytest.mark.anyio
async def test_a_long_text_is_cut_to_4096_characters_without_breaking_an_entity() -> None:
    with VendorReceiver(ok) as receiver:
        await send(receiver, Message(title="disk full", text="<" * 5000))
    assert receiver.problems == []
    text = json.loads(receiver.requests[0].body)["text"]
    assert len(text) <= 4096
    assert text.endswith("&lt;…")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "answer", "retryable", "retry_after"),
    [
        (429, {"error_code": 429, "description": "Too Many Requests: retry after 17",
               "parameters": {"retry_after": 17}}, True, 17),
        (400, {"error_code": 400, "description": "Bad Request: chat not found"}, False, None),
        (403, {"error_code": 403, "description": "Forbidden: bot was kicked"}, False, None),
        (502, None, True, None),
    ],
)  # fmt: skip
async def test_errors_follow_the_bot_api_answer(
    status: int, answer: dict[str, object] | None, retryable: bool, retry_after: int | None
) -> None:
    body = json.dumps({"ok": False, **answer}) if answer else "<html>Bad Gateway</html>"
    with VendorReceiver(ok) as receiver:
        receiver.replies = [Reply(status, body=body)]
        with pytest.raises(DeliveryError) as caught:
            await send(receiver)
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == (timedelta(seconds=retry_after) if retry_after else None)
    assert str(status) in str(caught.value)


@pytest.mark.anyio
async def test_a_wrong_token_is_permanent_and_the_token_is_never_shown() -> None:
    wrong = "999999:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"
    with VendorReceiver(ok) as receiver:
        receiver.replies = [
            Reply(401, body=f'{{"ok":false,"error_code":401,"description":"{wrong}"}}')
        ]
        with pytest.raises(DeliveryError) as caught:
            await send(receiver, token=wrong)
    assert not caught.value.retryable
    assert "ZZZZZZZZ" not in str(caught.value)
    assert "[redacted]" in str(caught.value)


def test_chat_id_and_token_are_checked_without_echoing_the_token() -> None:
    base = {"name": "tg", "kind": "telegram", "chat_id": "@opsbook_alerts"}
    assert TelegramChannelConfig.model_validate({**base, "bot_token": TOKEN}).chat_id == (
        "@opsbook_alerts"
    )
    # What `opsbook check` shows: the loader's located issue, without the value.
    with pytest.raises(ConfigError, match="bot token") as caught:
        load_config_text(
            "service: {name: Shop}\nchannels:\n"
            "  - {name: tg, kind: telegram, chat_id: '1', bot_token: not-a-t0ken-SECRET}\n"
        )
    assert "SECRET" not in str(caught.value)
    with pytest.raises(ValueError, match="chat id"):
        TelegramChannelConfig.model_validate({**base, "bot_token": TOKEN, "chat_id": "ops room"})
