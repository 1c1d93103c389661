"""The slack channel: one Block Kit message per notification, through an incoming webhook.

Slack answers ``200 ok``, or an error whose text body names the problem
(``invalid_payload``, ``no_service``, ``channel_is_archived``, ...) with a 400, 403, 404
or 410: the webhook or the payload needs fixing, so those are parked dead.  A 429 or a
5xx is retried, after ``Retry-After`` when Slack sends one.  The webhook URL is itself
the credential, so it never appears in an error or a log.
"""

from __future__ import annotations

import json
from typing import Any

from opsbook.notify.base import OutgoingNotification, render_subject
from opsbook.notify.http import HttpTransport, fit, link_targets, send_json, url_secrets
from opsbook.notify.message import Message
from opsbook.notify.slack.config import SlackChannelConfig

# Block Kit's documented limits (api.slack.com/reference/block-kit/blocks).
HEADER_TEXT_LIMIT = 150
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
FIELDS_PER_SECTION = 10
BUTTON_TEXT_LIMIT = 75
ACTIONS_PER_BLOCK = 25
CONTEXT_TEXT_LIMIT = 3000


def payload(message: Message) -> dict[str, Any]:
    """The Block Kit message: a ``text`` fallback for notifications, plus ``blocks``."""
    subject = render_subject(message)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": fit(subject, HEADER_TEXT_LIMIT)},
        }
    ]
    if message.text.strip():
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": fit(message.text, SECTION_TEXT_LIMIT, escape=True),
                },
            }
        )
    fields = [
        {"type": "mrkdwn", "text": fit(f"*{key}*\n{value}", FIELD_TEXT_LIMIT, escape=True)}
        for key, value in message.fields.items()
    ]
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start : start + FIELDS_PER_SECTION]})
    context = [f"*Severity:* {message.severity}"] if message.severity else []
    context.append(f"*Event:* {message.event}")
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": fit(text, CONTEXT_TEXT_LIMIT, escape=True)}
                for text in context
            ],
        }
    )
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": fit(label, BUTTON_TEXT_LIMIT)},
            "url": url,
            "action_id": f"opsbook-link-{index}",
        }
        for index, (label, url) in enumerate(link_targets(message)[:ACTIONS_PER_BLOCK])
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": fit(subject, SECTION_TEXT_LIMIT, escape=True), "blocks": blocks}


class SlackTransport(HttpTransport):
    """POSTs ``payload(message)`` to the channel's incoming webhook."""

    kind = "slack"
    config_model = SlackChannelConfig

    config: SlackChannelConfig

    async def send(self, delivery: OutgoingNotification) -> None:
        body = json.dumps(payload(delivery.message), ensure_ascii=False).encode()
        url = self.config.webhook_url.get_secret_value()
        await send_json(self._client, url, body, delivery, self._timeout, secrets=url_secrets(url))
