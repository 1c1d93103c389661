"""The ntfy channel: one message per notification, published with ntfy's JSON API.

The JSON API (``POST {server}`` with the topic in the body) is used rather than headers
on ``POST {server}/{topic}``: header values must be ASCII, and titles are not.  ntfy
answers 200 with the stored message.  A 429 (rate limit), 5xx or network failure is
retried; other 4xx (401/403 bad token or no access, 400 bad request, 413 too large) are
parked dead.  The token never appears in an error.
"""

from __future__ import annotations

import json
from typing import Any, Final

from opsbook.notify.base import OutgoingNotification
from opsbook.notify.http import HttpTransport, link_targets, send_json
from opsbook.notify.message import Message
from opsbook.notify.ntfy.config import NtfyChannelConfig

# ntfy priorities: 5 max/urgent, 4 high, 3 default, 2 low, 1 min.
PRIORITY_BY_SEVERITY: Final = {"P0": 5, "P1": 4, "P2": 3, "P3": 2}
DEFAULT_PRIORITY = 3
MAX_ACTIONS = 3  # ntfy shows at most three action buttons
# ntfy turns a longer message into an attachment; stay a plain message.
MESSAGE_LIMIT = 4000


def render(message: Message) -> str:
    """The notification body: the text, then ``key: value`` fields; never empty."""
    parts = [message.text.strip()] if message.text.strip() else []
    if message.fields:
        parts.append("\n".join(f"{key}: {value}" for key, value in message.fields.items()))
    text = "\n\n".join(parts) or message.title
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def payload(config: NtfyChannelConfig, message: Message) -> dict[str, Any]:
    """The JSON publish document for ``message`` on the channel's topic."""
    tags = list(config.tags)
    if message.severity:
        tags.append(message.severity)
    document: dict[str, Any] = {
        "topic": config.topic,
        "title": message.title,
        "message": render(message),
        "priority": PRIORITY_BY_SEVERITY.get(message.severity or "", DEFAULT_PRIORITY),
    }
    if tags:
        document["tags"] = tags
    links = link_targets(message)
    if message.url and any(url == message.url for _, url in links):
        document["click"] = message.url
    actions = [{"action": "view", "label": label, "url": url} for label, url in links[:MAX_ACTIONS]]
    if actions:
        document["actions"] = actions
    return document


class NtfyTransport(HttpTransport):
    """POSTs ``payload(config, message)`` to the ntfy server."""

    kind = "ntfy"
    config_model = NtfyChannelConfig

    config: NtfyChannelConfig

    async def send(self, delivery: OutgoingNotification) -> None:
        headers: dict[str, str] = {}
        secrets: list[str] = []
        if self.config.token is not None:
            token = self.config.token.get_secret_value()
            headers["Authorization"] = f"Bearer {token}"
            secrets.append(token)
        body = json.dumps(payload(self.config, delivery.message), ensure_ascii=False).encode()
        await send_json(
            self._client,
            self.config.server.rstrip("/") + "/",
            body,
            delivery,
            self._timeout,
            extra_headers=headers,
            secrets=secrets,
        )
