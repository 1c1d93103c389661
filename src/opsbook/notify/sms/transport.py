"""The sms channel: one short text per notification, through the first gateway that works.

See :mod:`opsbook.notify.sms.gateway` for the failover rule.
"""

from __future__ import annotations

from opsbook.notify.base import OutgoingNotification, render_subject
from opsbook.notify.http import HttpTransport
from opsbook.notify.message import Message
from opsbook.notify.sms.config import SmsChannelConfig
from opsbook.notify.sms.gateway import check_phone_target, deliver, recipient

BODY_LIMIT = 1600  # Twilio's Messages resource: "up to 1,600 characters"
_DASH = " — "


def render(message: Message) -> str:
    """A compact text, ``[P1] checkout is failing — https://…``, at most 1600 characters."""
    subject = render_subject(message)
    suffix = _DASH + message.url if message.url else ""
    if len(subject) + len(suffix) > BODY_LIMIT:
        if len(suffix) > BODY_LIMIT // 2:
            suffix = ""  # a URL this long is useless on a phone anyway
        subject = subject[: BODY_LIMIT - len(suffix) - 1] + "…"
    return subject + suffix


class SmsTransport(HttpTransport):
    """Creates a Twilio-style ``Messages`` resource: form fields ``To``, ``From``, ``Body``."""

    kind = "sms"
    config_model = SmsChannelConfig

    config: SmsChannelConfig

    @classmethod
    def check_target(cls, target: str) -> None:
        check_phone_target(target)

    async def send(self, delivery: OutgoingNotification) -> None:
        form = {
            "To": recipient(delivery.target, self.config.to),
            "Body": render(delivery.message),
        }
        await deliver(
            self._client,
            self.config.providers,
            "Messages",
            form,
            delivery,
            self._timeout,
            channel_kind=self.kind,
        )
