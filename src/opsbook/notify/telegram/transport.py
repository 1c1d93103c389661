"""The telegram channel: one ``sendMessage`` call per notification.

The Bot API answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
"description": "...", "parameters": {"retry_after": S}}``.  Flood control (429) is
retried after ``retry_after``; a 5xx or a network failure is retried; anything else (400
bad chat or markup, 401 bad token, 403 bot blocked or kicked, 404) needs a person.  The
bot token is part of the request path, so it is scrubbed from every error.
"""

from __future__ import annotations

import html
import json
from datetime import timedelta
from typing import Any

import httpx

from opsbook.notify.base import DeliveryError, OutgoingNotification, render_subject
from opsbook.notify.http import (
    MAX_ERROR_BODY,
    MAX_RETRY_AFTER,
    MIN_RETRY_AFTER,
    USER_AGENT,
    HttpTransport,
    clean,
    fit,
    link_targets,
    parse_retry_after,
    read_head,
)
from opsbook.notify.message import Message
from opsbook.notify.telegram.config import TelegramChannelConfig

TEXT_LIMIT = 4096  # sendMessage: "1-4096 characters after entities parsing"
MAX_BUTTONS = 10


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>``: all that Telegram's HTML parse mode needs outside tags."""
    return html.escape(text, quote=False)


def render(message: Message) -> str:
    """The message as Telegram HTML: bold subject, text, fields; at most 4096 characters."""
    head = f"<b>{escape(render_subject(message))}</b>"
    tail = "".join(f"\n<b>{escape(k)}:</b> {escape(v)}" for k, v in message.fields.items())
    if tail:
        tail = "\n" + tail
    budget = TEXT_LIMIT - len(head) - len(tail) - 2
    text = message.text.strip()
    # Slack's mrkdwn escapes the same three characters, so its cutter fits here too.
    body = "\n\n" + fit(text, budget, escape=True) if text and budget > 1 else ""
    rendered = head + body + tail
    if len(rendered) > TEXT_LIMIT:  # pathological titles or fields: plain and cut
        rendered = escape(render_subject(message))[: TEXT_LIMIT - 1] + "…"
    return rendered


def payload(chat_id: str, message: Message) -> dict[str, Any]:
    """The ``sendMessage`` parameters, with link buttons as an inline keyboard."""
    data: dict[str, Any] = {
        "chat_id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id,
        "text": render(message),
        "parse_mode": "HTML",
        # Bot API 7.0 replaced disable_web_page_preview with link_preview_options.
        "link_preview_options": {"is_disabled": True},
    }
    buttons = [[{"text": label, "url": url}] for label, url in link_targets(message)]
    if buttons:
        data["reply_markup"] = {"inline_keyboard": buttons[:MAX_BUTTONS]}
    return data


class TelegramTransport(HttpTransport):
    """Calls ``{api_base}/bot<token>/sendMessage`` for the configured chat."""

    kind = "telegram"
    config_model = TelegramChannelConfig

    config: TelegramChannelConfig

    def __init__(
        self, config: TelegramChannelConfig, *, client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(config, client=client)
        self._secrets = [config.bot_token.get_secret_value()]

    async def send(self, delivery: OutgoingNotification) -> None:
        token = self.config.bot_token.get_secret_value()
        url = f"{self.config.api_base.rstrip('/')}/bot{token}/sendMessage"
        body = json.dumps(payload(self.config.chat_id, delivery.message), ensure_ascii=False)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": delivery.idempotency_key,
        }
        try:
            async with self._client.stream(
                "POST",
                url,
                content=body.encode(),
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                head = await read_head(response, 64 * 1024)
        except httpx.TimeoutException:
            raise DeliveryError(
                f"timed out after {self.config.timeout.total_seconds():g}s", retryable=True
            ) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise DeliveryError(
                f"invalid api_base: {type(exc).__name__}", retryable=False
            ) from None
        except httpx.TransportError as exc:
            raise DeliveryError(
                f"connection failed: {type(exc).__name__}: {clean(str(exc), self._secrets)}",
                retryable=True,
            ) from None
        answer = _json(head)
        if response.is_success and answer.get("ok") is True:
            return
        raise self._error(response, head, answer, delivery)

    def _error(
        self,
        response: httpx.Response,
        head: bytes,
        answer: dict[str, Any],
        delivery: OutgoingNotification,
    ) -> DeliveryError:
        code = answer.get("error_code")
        status = code if isinstance(code, int) else response.status_code
        description = answer.get("description")
        detail = description if isinstance(description, str) else head.decode("utf-8", "replace")
        detail = clean(detail[: MAX_ERROR_BODY * 4], self._secrets)
        text = f"Telegram error {status}" + (f": {detail}" if detail else "")
        if response.is_redirect:
            return DeliveryError(f"{text} (redirects are not followed)", retryable=False)
        if response.is_success:  # 200 without "ok": true is not the Bot API answering
            return DeliveryError(f"{text} (not a Bot API answer)", retryable=True)
        if status == 429 or status >= 500 or response.status_code >= 500:
            return DeliveryError(
                text,
                retryable=True,
                retry_after=_flood_wait(answer)
                or parse_retry_after(response.headers.get("Retry-After"), delivery.sent_at),
            )
        return DeliveryError(text, retryable=False)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _flood_wait(answer: dict[str, Any]) -> timedelta | None:
    parameters = answer.get("parameters")
    seconds = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return None
    return max(MIN_RETRY_AFTER, min(timedelta(seconds=seconds), MAX_RETRY_AFTER))
