"""The teams channel: one Adaptive Card per notification, through a Workflows webhook.

Microsoft retired Office 365 connectors in favour of Workflows (Power Automate): a flow
"When a Teams webhook request is received" accepts a message whose attachment is an
Adaptive Card and posts it to a channel or chat.  The flow answers ``202 Accepted`` (or
``200``); errors are classified like the webhook channel's: 5xx, 408 and 429 are
retried, other 4xx are parked dead.  The URL carries the flow's signature, so it is a
secret and never appears in an error.
"""

from __future__ import annotations

import json
from typing import Any

from opsbook.notify.base import OutgoingNotification, render_subject
from opsbook.notify.http import HttpTransport, link_targets, send_json, url_secrets
from opsbook.notify.message import Message
from opsbook.notify.teams.config import TeamsChannelConfig

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# 1.4 is what Teams renders on every client; newer elements are not used anyway.
CARD_VERSION = "1.4"
# Teams cuts a card at about 28 KB; a notification stays far below with these caps.
TEXT_LIMIT = 10_000
MAX_ACTIONS = 6


def card(message: Message) -> dict[str, Any]:
    """The Adaptive Card: a bold title, the text, a FactSet of fields, link actions."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": render_subject(message),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        }
    ]
    if message.text.strip():
        body.append({"type": "TextBlock", "text": message.text[:TEXT_LIMIT], "wrap": True})
    facts = [{"title": key, "value": value} for key, value in message.fields.items()]
    if message.severity:
        facts.insert(0, {"title": "Severity", "value": message.severity})
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    content: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    actions = [
        {"type": "Action.OpenUrl", "title": label, "url": url}
        for label, url in link_targets(message)[:MAX_ACTIONS]
    ]
    if actions:
        content["actions"] = actions
    return content


def payload(message: Message) -> dict[str, Any]:
    """The message a Workflows webhook expects: the card as its only attachment."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card(message)}
        ],
    }


class TeamsTransport(HttpTransport):
    """POSTs ``payload(message)`` to the channel's Workflows webhook."""

    kind = "teams"
    config_model = TeamsChannelConfig

    config: TeamsChannelConfig

    async def send(self, delivery: OutgoingNotification) -> None:
        body = json.dumps(payload(delivery.message), ensure_ascii=False).encode()
        url = self.config.webhook_url.get_secret_value()
        await send_json(self._client, url, body, delivery, self._timeout, secrets=url_secrets(url))
