"""Webhooks: signed Stripe-style, keyed for dedup, retried only when a retry can help."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from sqlalchemy import select

from notify.servers import Reply, WebhookReceiver
from opsbook import __version__
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.models import Notification
from opsbook.notify import DeliveryError, Dispatcher, Link, Message, OutgoingNotification, notify
from opsbook.notify.webhook.config import WebhookChannelConfig
from opsbook.notify.webhook.signing import sign, verify
from opsbook.notify.webhook.transport import WebhookTransport

SECRET = "whsec_test_0123456789abcdef"
MESSAGE = Message(
    title="checkout is failing",
    text="Error rate above 5% for 5 minutes.",
    severity="P1",
    url="https://opsbook.example.com/incidents/7",
    fields={"service": "checkout"},
    links=(Link("Runbook", "https://wiki.example.com/checkout"),),
    event="incident.triggered",
)


def _config(receiver: WebhookReceiver, **extra: object) -> WebhookChannelConfig:
    data = {"name": "hook", "kind": "webhook", "url": receiver.url, "secret": SECRET, **extra}
    return WebhookChannelConfig.model_validate(data)


def _outgoing(clock: FakeClock, key: str = "incident:7:triggered") -> OutgoingNotification:
    return OutgoingNotification(
        notification_id=1,
        channel="hook",
        message=MESSAGE,
        idempotency_key=key,
        target=None,
        attempt=1,
        sent_at=clock.now(),
    )


def test_a_signature_verifies_only_for_the_same_body_secret_and_recent_time() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    body = b'{"event":"incident.triggered"}'
    header = sign(SECRET, body, int(now.timestamp()))
    assert header.startswith(f"t={int(now.timestamp())},v1=")
    assert verify(SECRET, body, header, now)
    assert verify(SECRET.encode(), body, header, now + timedelta(seconds=299))
    assert not verify(SECRET, body + b" ", header, now)
    assert not verify("another-secret", body, header, now)
    assert not verify(SECRET, body, header, now + timedelta(seconds=301))  # a replay
    assert not verify(SECRET, body, header, now - timedelta(seconds=301))
    for malformed in (None, "", "v1=abc", "t=abc,v1=abc", f"t={int(now.timestamp())}", "t=1,v1=é"):
        assert not verify(SECRET, body, malformed, now)
    # During a secret rotation the sender may sign twice; one valid signature suffices.
    old = sign("old-secret", body, int(now.timestamp())).split(",")[1]
    assert verify(SECRET, body, f"{header},{old}", now)


@pytest.mark.anyio
async def test_the_post_is_signed_json_with_the_idempotency_key(
    clock: FakeClock, receiver: WebhookReceiver
) -> None:
    headers = {"X-Team": "payments", "user-agent": "spoofed"}
    transport = WebhookTransport(_config(receiver, headers=headers))
    try:
        await transport.send(_outgoing(clock))
    finally:
        await transport.aclose()

    [request] = receiver.requests
    assert request.signature_ok
    assert request.headers["idempotency-key"] == "incident:7:triggered"
    assert request.headers["user-agent"] == f"opsbook/{__version__}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-team"] == "payments"
    assert json.loads(request.body) == {
        "event": "incident.triggered",
        "idempotency_key": "incident:7:triggered",
        "message": MESSAGE.to_dict(),
        "sent_at": clock.now().isoformat(),
    }
    assert receiver.accepted == {"incident:7:triggered": 1}


@pytest.mark.anyio
async def test_without_a_secret_no_signature_is_sent(
    clock: FakeClock, receiver: WebhookReceiver
) -> None:
    receiver.secret = None
    transport = WebhookTransport(_config(receiver, secret=None))
    try:
        await transport.send(_outgoing(clock))
    finally:
        await transport.aclose()
    assert "opsbook-signature" not in receiver.requests[0].headers


@pytest.mark.anyio
async def test_error_text_is_truncated_and_never_holds_the_secret_or_headers(
    clock: FakeClock, receiver: WebhookReceiver
) -> None:
    token = "Bearer tok_live_abcdef123456"
    echo = f"debug: secret={SECRET} auth={token} url={receiver.url} " + "x" * 1000
    receiver.replies = [Reply(500, body=echo), Reply(302, headers={"Location": "http://x/"})]
    transport = WebhookTransport(_config(receiver, headers={"Authorization": token}))
    try:
        with pytest.raises(DeliveryError) as server_error:
            await transport.send(_outgoing(clock))
        with pytest.raises(DeliveryError) as redirect:
            await transport.send(_outgoing(clock))
    finally:
        await transport.aclose()

    text = str(server_error.value)
    assert server_error.value.retryable
    assert text.startswith("HTTP 500: debug: secret=[redacted] auth=[redacted] url=[redacted]")
    assert SECRET not in text
    assert "tok_live" not in text
    assert receiver.url not in text
    assert len(text) < 300
    assert not redirect.value.retryable  # redirects are not followed, nor retried
    assert "HTTP 302" in str(redirect.value)


def _enqueue(db: Database, clock: FakeClock, config: WebhookChannelConfig) -> None:
    with transaction(db.session) as session:
        notify(
            session,
            channels={"hook": config},
            channel="hook",
            message=MESSAGE,
            idempotency_key="incident:7:triggered",
            now=clock.now(),
        )


def _row(db: Database) -> Notification:
    with db.session() as session:
        row = session.scalars(select(Notification)).one()
        session.expunge(row)
        return row


async def _round(db: Database, clock: FakeClock, config: WebhookChannelConfig) -> list[str]:
    transport = WebhookTransport(config)
    try:
        results = await Dispatcher(db, clock, {"hook": transport}, "w1").run_once()
    finally:
        await transport.aclose()
    return [result.status for result in results]


@pytest.mark.anyio
async def test_a_503_is_retried_after_backoff(
    db: Database, clock: FakeClock, receiver: WebhookReceiver
) -> None:
    config = _config(receiver)
    _enqueue(db, clock, config)
    receiver.replies = [Reply(503, body="maintenance")]

    assert await _round(db, clock, config) == ["pending"]
    row = _row(db)
    assert row.last_error == "HTTP 503: maintenance"
    assert row.next_attempt_at == clock.now() + timedelta(seconds=5)  # the first backoff step
    assert await _round(db, clock, config) == []  # not due yet
    clock.advance(timedelta(seconds=5))
    assert await _round(db, clock, config) == ["delivered"]
    assert receiver.accepted == {"incident:7:triggered": 1}
    assert [r.status for r in receiver.requests] == [503, 200]


@pytest.mark.anyio
async def test_a_429_is_retried_when_its_retry_after_has_passed(
    db: Database, clock: FakeClock, receiver: WebhookReceiver
) -> None:
    config = _config(receiver)
    _enqueue(db, clock, config)
    receiver.replies = [Reply(429, headers={"Retry-After": "120"}, body="slow down")]

    assert await _round(db, clock, config) == ["pending"]
    assert _row(db).next_attempt_at == clock.now() + timedelta(seconds=120)
    clock.advance(timedelta(seconds=119))
    assert await _round(db, clock, config) == []
    clock.advance(timedelta(seconds=1))
    assert await _round(db, clock, config) == ["delivered"]


@pytest.mark.anyio
async def test_a_400_is_dead_at_once_and_never_retried(
    db: Database, clock: FakeClock, receiver: WebhookReceiver
) -> None:
    config = _config(receiver, headers={"Authorization": "Bearer tok_live_abcdef123456"})
    _enqueue(db, clock, config)
    receiver.replies = [Reply(400, body=f"bad payload; you sent secret {SECRET}")]

    with structlog.testing.capture_logs() as logs:
        assert await _round(db, clock, config) == ["dead"]
    row = _row(db)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "HTTP 400: bad payload; you sent secret [redacted]"
    clock.advance(timedelta(days=2))
    assert await _round(db, clock, config) == []
    assert len(receiver.requests) == 1
    assert [entry["event"] for entry in logs] == ["notify.dead"]
    assert SECRET not in repr(logs)
    assert "tok_live" not in repr(logs)


@pytest.mark.anyio
async def test_a_receiver_slower_than_the_timeout_is_retried(
    db: Database, clock: FakeClock, receiver: WebhookReceiver
) -> None:
    config = _config(receiver, timeout="1s")
    _enqueue(db, clock, config)
    receiver.replies = [Reply(200, delay=3.0)]

    assert await _round(db, clock, config) == ["pending"]
    assert _row(db).last_error == "timed out after 1s"
    clock.advance(timedelta(seconds=5))
    assert await _round(db, clock, config) == ["delivered"]


@pytest.mark.anyio
async def test_consecutive_posts_reuse_one_kept_alive_connection(clock: FakeClock) -> None:
    receiver = WebhookReceiver(secret=SECRET, clock=clock, keep_alive=True)
    receiver.replies = [Reply(body='{"ok": true}'), Reply(body=""), Reply(body="x" * 300)]
    receiver.start()
    transport = WebhookTransport(_config(receiver))
    try:
        for n in range(3):
            await transport.send(_outgoing(clock, key=f"incident:7:triggered:{n}"))
    finally:
        await transport.aclose()
        receiver.stop()
    assert [r.status for r in receiver.requests] == [200, 200, 200]
    # A page a minute to one receiver should not cost a TCP (or TLS) handshake each.
    assert len(set(receiver.client_ports)) == 1
