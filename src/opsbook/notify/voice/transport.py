"""The voice channel: one phone call per notification that reads the alert out.

The call's instructions travel inline as ``Twiml`` (no TwiML server to host); the spoken
text is XML-escaped, so a title cannot inject verbs.  Failover as for sms
(:mod:`opsbook.notify.sms.gateway`).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from opsbook.notify.base import OutgoingNotification
from opsbook.notify.http import HttpTransport
from opsbook.notify.message import Message
from opsbook.notify.sms.gateway import check_phone_target, deliver, recipient
from opsbook.notify.voice.config import VoiceChannelConfig

TWIML_LIMIT = 4000  # Twilio's cap on the Twiml parameter
SPOKEN_TITLE_LIMIT = 500


def spoken(message: Message) -> str:
    """What the call says: ``Opsbook alert. Severity P1. checkout is failing.``"""
    title = " ".join(message.title.split())[:SPOKEN_TITLE_LIMIT]
    severity = f" Severity {message.severity}." if message.severity else ""
    return f"Opsbook alert.{severity} {title}."


def twiml(message: Message) -> str:
    """``<Response><Say>…</Say></Response>``, the alert said twice with a pause between."""
    say = f"<Say>{escape(spoken(message))}</Say>"
    document = f'<Response>{say}<Pause length="1"/>{say}</Response>'
    return document if len(document) <= TWIML_LIMIT else f"<Response>{say}</Response>"


class VoiceTransport(HttpTransport):
    """Creates a Twilio-style ``Calls`` resource: form fields ``To``, ``From``, ``Twiml``."""

    kind = "voice"
    config_model = VoiceChannelConfig

    config: VoiceChannelConfig

    @classmethod
    def check_target(cls, target: str) -> None:
        check_phone_target(target)

    async def send(self, delivery: OutgoingNotification) -> None:
        form = {
            "To": recipient(delivery.target, self.config.to),
            "Twiml": twiml(delivery.message),
        }
        await deliver(
            self._client,
            self.config.providers,
            "Calls",
            form,
            delivery,
            self._timeout,
            channel_kind=self.kind,
        )
