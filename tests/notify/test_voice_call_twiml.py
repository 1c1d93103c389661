"""voice: a Twilio-style Calls POST whose inline Twiml says the alert, XML-escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from notify.servers import Reply
from notify.vendor_receivers import VendorReceiver, twilio
from opsbook.notify import DeliveryError, Message, OutgoingNotification
from opsbook.notify.voice.config import VoiceChannelConfig
from opsbook.notify.voice.transport import VoiceTransport


def call_form(form: dict[str, str]) -> None:
    """Calls resource: To, From and Twiml (at most 4000 characters) parsing as <Response>."""
    assert set(form) == {"To", "From", "Twiml"}
    assert len(form["Twiml"]) <= 4000
    root = ET.fromstring(form["Twiml"])  # noqa: S314 - our own request, in a test
    assert root.tag == "Response"
    assert {child.tag for child in root} <= {"Say", "Pause"}
    assert all(say.text for say in root.iter("Say"))


async def send(receivers: list[VendorReceiver], title: str) -> None:
    config = VoiceChannelConfig.model_validate(
        {
            "name": "call",
            "kind": "voice",
            "providers": [
                {
                    "api_base": r.base,
                    "account_sid": f"AC{i}",
                    "auth_token": f"token-{i}",
                    "from": "+14155550100",
                }
                for i, r in enumerate(receivers, 1)
            ],
        }
    )
    transport = VoiceTransport(config)
    try:
        await transport.send(
            OutgoingNotification(
                notification_id=1,
                channel="call",
                message=Message(title=title, severity="P0"),
                idempotency_key="incident:7:triggered:sms",
                target="+14155550123",
                attempt=1,
                sent_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            )
        )
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_a_call_says_the_alert_and_markup_in_the_title_stays_text() -> None:
    with VendorReceiver(twilio("AC1", "token-1", "Calls", call_form)) as gateway:
        await send([gateway], 'db <Hangup/> & "cache" down')
    assert gateway.problems == []
    root = ET.fromstring(gateway.requests[0].form()["Twiml"])  # noqa: S314 - as above
    said = [say.text for say in root.iter("Say")]
    assert said == ['Opsbook alert. Severity P0. db <Hangup/> & "cache" down.'] * 2
    assert root.find("Hangup") is None


@pytest.mark.anyio
async def test_a_call_fails_over_like_sms_and_stops_on_a_bad_number() -> None:
    with (
        VendorReceiver(twilio("AC1", "token-1", "Calls", call_form)) as first,
        VendorReceiver(twilio("AC2", "token-2", "Calls", call_form)) as second,
    ):
        first.replies = [Reply(503, body="busy")]
        await send([first, second], "api down")
        assert len(second.requests) == 1
        first.replies = [Reply(400, body='{"code": 13224, "message": "Invalid phone number"}')]
        with pytest.raises(DeliveryError) as caught:
            await send([first, second], "api down")
        assert len(second.requests) == 1
    assert not caught.value.retryable
    assert "13224" in str(caught.value)
