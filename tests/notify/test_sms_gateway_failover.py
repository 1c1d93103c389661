"""sms: Twilio-style form POSTs, failover to the next provider, none on a bad request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from notify.servers import Reply
from notify.vendor_receivers import VendorReceiver, twilio
from opsbook.notify import DeliveryError, Message, OutgoingNotification
from opsbook.notify.sms.config import SmsChannelConfig
from opsbook.notify.sms.transport import SmsTransport

MESSAGE = Message(
    title="checkout is failing",
    text="not sent by SMS",
    severity="P1",
    url="https://opsbook.example.com/incidents/7",
)


def sms_form(form: dict[str, str]) -> None:
    assert set(form) == {"To", "From", "Body"}
    assert 0 < len(form["Body"]) <= 1600


def provider(receiver: VendorReceiver, sid: str, token: str, sender: str) -> dict[str, str]:
    return {"api_base": receiver.base, "account_sid": sid, "auth_token": token, "from": sender}


async def send(
    providers: list[dict[str, str]],
    *,
    target: str | None = "+14155550123",
    message: Message = MESSAGE,
    to: str | None = None,
) -> None:
    config = SmsChannelConfig.model_validate(
        {"name": "sms", "kind": "sms", "providers": providers, "to": to}
    )
    transport = SmsTransport(config)
    try:
        await transport.send(
            OutgoingNotification(
                notification_id=1,
                channel="sms",
                message=message,
                idempotency_key="incident:7:triggered:sms",
                target=target,
                attempt=1,
                sent_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            )
        )
    finally:
        await transport.aclose()


@pytest.mark.anyio
async def test_a_text_is_a_compact_form_post_with_basic_auth() -> None:
    with VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first:
        await send([provider(first, "AC1", "token-one", "+14155550100")])
    assert first.problems == []
    assert first.requests[0].form() == {
        "To": "+14155550123",
        "From": "+14155550100",
        "Body": "[P1] checkout is failing — https://opsbook.example.com/incidents/7",
    }


@pytest.mark.anyio
async def test_a_long_title_is_cut_to_1600_characters() -> None:
    with VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first:
        await send(
            [provider(first, "AC1", "token-one", "+14155550100")], message=Message(title="x" * 3000)
        )
    assert first.problems == []
    assert len(first.requests[0].form()["Body"]) == 1600


@pytest.mark.anyio
async def test_a_failing_first_provider_hands_over_to_the_second_and_the_log_says_which() -> None:
    with (
        VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first,
        VendorReceiver(twilio("AC2", "token-two", "Messages", sms_form)) as second,
    ):
        first.replies = [Reply(503, body="maintenance")]
        with capture_logs() as logs:
            await send(
                [
                    provider(first, "AC1", "token-one", "+14155550100"),
                    provider(second, "AC2", "token-two", "+14155550101"),
                ]
            )
    assert len(first.requests) == 1
    assert second.problems == []
    assert second.requests[0].form()["From"] == "+14155550101"
    delivered = [entry for entry in logs if entry["event"] == "notify.sms.delivered"]
    assert [(e["provider"], e["api_base"]) for e in delivered] == [(2, second.base)]
    assert not any("token-" in str(entry) for entry in logs)


@pytest.mark.anyio
async def test_wrong_credentials_at_one_provider_fail_over_too() -> None:
    with (
        VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first,
        VendorReceiver(twilio("AC2", "token-two", "Messages", sms_form)) as second,
    ):
        await send(
            [
                provider(first, "AC1", "stale-token", "+14155550100"),
                provider(second, "AC2", "token-two", "+14155550101"),
            ]
        )
    assert len(second.requests) == 1


@pytest.mark.anyio
async def test_a_bad_request_is_not_retried_elsewhere() -> None:
    invalid = '{"code": 21211, "message": "Invalid \'To\' Phone Number", "status": 400}'
    with (
        VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first,
        VendorReceiver(twilio("AC2", "token-two", "Messages", sms_form)) as second,
    ):
        first.replies = [Reply(400, body=invalid)]
        with pytest.raises(DeliveryError) as caught:
            await send(
                [
                    provider(first, "AC1", "token-one", "+14155550100"),
                    provider(second, "AC2", "token-two", "+14155550101"),
                ]
            )
    assert second.requests == []
    assert not caught.value.retryable
    assert "21211 Invalid 'To' Phone Number" in str(caught.value)


@pytest.mark.anyio
async def test_when_every_provider_fails_the_delivery_is_retried_without_secrets() -> None:
    with (
        VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first,
        VendorReceiver(twilio("AC2", "token-two", "Messages", sms_form)) as second,
    ):
        first.replies = [Reply(500, body="echo token-one")]
        second.replies = [Reply(429, headers={"Retry-After": "20"}, body="echo token-two")]
        with pytest.raises(DeliveryError) as caught:
            await send(
                [
                    provider(first, "AC1", "token-one", "+14155550100"),
                    provider(second, "AC2", "token-two", "+14155550101"),
                ]
            )
    error = caught.value
    assert error.retryable
    assert error.retry_after is None  # provider 1 asked for no wait: back off normally
    assert str(error).startswith("all 2 providers failed: provider 1: HTTP 500")
    assert "token-one" not in str(error)
    assert "token-two" not in str(error)


@pytest.mark.anyio
async def test_a_single_rate_limited_provider_is_retried_after_its_wait() -> None:
    with VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first:
        first.replies = [Reply(429, headers={"Retry-After": "20"}, body="Too Many Requests")]
        with pytest.raises(DeliveryError) as caught:
            await send([provider(first, "AC1", "token-one", "+14155550100")])
    assert caught.value.retryable
    assert caught.value.retry_after == timedelta(seconds=20)


@pytest.mark.anyio
async def test_an_unreachable_provider_fails_over_to_the_next() -> None:
    with VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as gone:
        dead = provider(gone, "AC1", "token-one", "+14155550100")
    with VendorReceiver(twilio("AC2", "token-two", "Messages", sms_form)) as second:
        await send([dead, provider(second, "AC2", "token-two", "+14155550101")])
    assert len(second.requests) == 1


@pytest.mark.anyio
async def test_the_configured_number_is_used_when_there_is_no_target() -> None:
    with VendorReceiver(twilio("AC1", "token-one", "Messages", sms_form)) as first:
        await send(
            [provider(first, "AC1", "token-one", "+14155550100")], target=None, to="+4930123456"
        )
    assert first.requests[0].form()["To"] == "+4930123456"


@pytest.mark.parametrize("target", ["+14155550123", "+4930123456"])
def test_check_target_accepts_e164(target: str) -> None:
    SmsTransport.check_target(target)


@pytest.mark.parametrize(
    "target", ["4155550123", "+0155550123", "+1 415 555", "ann@example.com", "+1234"]
)
def test_check_target_rejects_anything_but_e164(target: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        SmsTransport.check_target(target)
