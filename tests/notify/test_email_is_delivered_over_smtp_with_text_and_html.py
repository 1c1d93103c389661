"""Email: a real SMTP server (aiosmtpd) receives text + HTML, over plain, STARTTLS and TLS."""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from notify.servers import SmtpRecorder, free_port, self_signed_cert, smtp_server
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database, transaction
from opsbook.core.models import Notification
from opsbook.notify import DeliveryError, Dispatcher, Message, OutgoingNotification, notify
from opsbook.notify.email.config import EmailChannelConfig
from opsbook.notify.email.transport import EmailTransport, message_id

pytestmark = pytest.mark.anyio

KEY = "incident:42:triggered:oncall-mail"
MESSAGE = Message(
    title="checkout <is> failing",
    text="Error rate above 5% for 5 minutes.\n\nSee the dashboard.",
    severity="P1",
    url="https://opsbook.example.com/incidents/42",
    fields={"service": "checkout"},
    event="incident.triggered",
)


def _config(port: int, security: str = "none", **smtp: Any) -> EmailChannelConfig:
    return EmailChannelConfig.model_validate(
        {
            "name": "oncall-mail",
            "kind": "email",
            "to": ["ann@example.com", "bob@example.com"],
            "from": "Opsbook <opsbook@example.com>",
            "smtp": {"host": "127.0.0.1", "port": port, "security": security, "timeout": "5s"}
            | smtp,
        }
    )


def _outgoing(clock: FakeClock, target: str | None = None) -> OutgoingNotification:
    return OutgoingNotification(
        notification_id=1,
        channel="oncall-mail",
        message=MESSAGE,
        idempotency_key=KEY,
        target=target,
        attempt=1,
        sent_at=clock.now(),
    )


def _parse(recorder: SmtpRecorder) -> EmailMessage:
    [envelope] = recorder.envelopes
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


@pytest.fixture
def recorder() -> SmtpRecorder:
    return SmtpRecorder(refuse={"gone@example.com": "550 5.1.1 no such user"})


@pytest.fixture
def plain_server(recorder: SmtpRecorder) -> Iterator[int]:
    controller = smtp_server(recorder)
    yield controller.port
    controller.stop()


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path)


def _server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    return context


async def test_the_mail_has_text_and_html_parts_and_a_key_derived_message_id(
    clock: FakeClock, recorder: SmtpRecorder, plain_server: int
) -> None:
    await EmailTransport(_config(plain_server)).send(_outgoing(clock))

    [envelope] = recorder.envelopes
    assert envelope.mail_from == "opsbook@example.com"
    assert envelope.rcpt_tos == ["ann@example.com", "bob@example.com"]
    mail = _parse(recorder)
    assert mail["Subject"] == "[P1] checkout <is> failing"
    assert mail["From"] == "Opsbook <opsbook@example.com>"
    assert mail["Message-ID"] == message_id(KEY, "example.com")
    assert mail["X-Opsbook-Idempotency-Key"] == KEY
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Error rate above 5% for 5 minutes." in text.get_content()
    assert "Open in Opsbook: https://opsbook.example.com/incidents/42" in text.get_content()
    assert "checkout &lt;is&gt; failing" in html.get_content()
    assert '<a href="https://opsbook.example.com/incidents/42">' in html.get_content()


async def test_retries_carry_the_same_message_id_and_a_target_replaces_the_list(
    clock: FakeClock, recorder: SmtpRecorder, plain_server: int
) -> None:
    transport = EmailTransport(_config(plain_server))
    await transport.send(_outgoing(clock, target="carol@example.com"))
    clock.advance(timedelta(minutes=5))
    await transport.send(_outgoing(clock, target="carol@example.com"))

    first, second = recorder.envelopes
    assert first.rcpt_tos == second.rcpt_tos == ["carol@example.com"]
    ids = {email.message_from_bytes(e.content)["Message-ID"] for e in recorder.envelopes}
    assert ids == {message_id(KEY, "example.com")}


async def test_starttls_with_auth_trusts_only_the_given_ca(
    clock: FakeClock, recorder: SmtpRecorder, cert: tuple[Path, Path]
) -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"opsbook",
            b"s3cret-pass",
        )
        # handled=False: let aiosmtpd answer a failure with its own 535 reply.
        return AuthResult(success=ok, handled=False)

    controller = smtp_server(
        recorder,
        tls_context=_server_tls(cert),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    try:
        config = _config(controller.port, "starttls", username="opsbook", password="s3cret-pass")
        await EmailTransport(config, ca_file=cert[0]).send(_outgoing(clock))
        assert _parse(recorder)["Message-ID"] == message_id(KEY, "example.com")

        wrong = _config(controller.port, "starttls", username="opsbook", password="nope-nope")
        with pytest.raises(DeliveryError) as rejected:
            await EmailTransport(wrong, ca_file=cert[0]).send(_outgoing(clock))
        assert not rejected.value.retryable  # 535: a configuration problem
        assert "nope-nope" not in str(rejected.value)

        # The system trust store does not know the self-signed certificate.
        with pytest.raises(DeliveryError) as untrusted:
            await EmailTransport(config).send(_outgoing(clock))
        assert untrusted.value.retryable
        assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value)
    finally:
        controller.stop()


async def test_implicit_tls_delivers(
    clock: FakeClock, recorder: SmtpRecorder, cert: tuple[Path, Path]
) -> None:
    controller = smtp_server(recorder, ssl_context=_server_tls(cert))
    try:
        client_tls = ssl.create_default_context(cafile=str(cert[0]))
        config = _config(controller.port, "tls")
        await EmailTransport(config, ssl_context=client_tls).send(_outgoing(clock))
    finally:
        controller.stop()
    assert _parse(recorder)["X-Opsbook-Idempotency-Key"] == KEY


async def test_temporary_failures_are_retryable(clock: FakeClock) -> None:
    greylist = SmtpRecorder(refuse={"ann@example.com": "450 4.2.0 greylisted, try later"})
    controller = smtp_server(greylist)
    try:
        with pytest.raises(DeliveryError) as greylisted:
            await EmailTransport(_config(controller.port)).send(_outgoing(clock, "ann@example.com"))
    finally:
        controller.stop()
    assert greylisted.value.retryable
    assert "450" in str(greylisted.value)

    with pytest.raises(DeliveryError) as refused:  # nothing listens on that port
        await EmailTransport(_config(free_port())).send(_outgoing(clock))
    assert refused.value.retryable


async def test_a_550_rejection_is_dead_without_retry(
    db: Database, clock: FakeClock, recorder: SmtpRecorder, plain_server: int
) -> None:
    config = _config(plain_server)
    with transaction(db.session) as session:
        notify(
            session,
            channels={"oncall-mail": config},
            channel="oncall-mail",
            message=MESSAGE,
            idempotency_key=KEY,
            now=clock.now(),
            target="gone@example.com",
        )
    dispatcher = Dispatcher(db, clock, {"oncall-mail": EmailTransport(config)}, "w1")

    [result] = await dispatcher.run_once()
    assert result.status == "dead"
    assert result.error is not None
    assert "550 5.1.1 no such user" in result.error
    clock.advance(timedelta(days=1))
    assert await dispatcher.run_once() == []
    with db.session() as session:
        row = session.scalars(select(Notification)).one()
        assert (row.status, row.attempts) == ("dead", 1)
    assert recorder.envelopes == []
