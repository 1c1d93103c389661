"""Subscribers: double opt-in, one-click unsubscribe, updates through the outbox."""

from __future__ import annotations

import asyncio
import email
import json
import re
from email.message import Message as MailMessage

from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from notify.servers import SmtpRecorder, WebhookReceiver
from opsbook.core.clock import FakeClock
from opsbook.core.jobs import JobRunner
from opsbook.core.models import Notification
from opsbook.notify.dispatcher import Dispatcher
from opsbook.notify.registry import build_transports
from opsbook.runtime import Runtime
from opsbook.status import service, subscribers
from opsbook.status.delivery import status_transports


def deliver(runtime: Runtime) -> list[str]:
    JobRunner(
        db=runtime.db, registry=runtime.jobs, clock=runtime.clock, worker_id="test"
    ).run_until_idle()
    transports = build_transports(runtime.config.channels) | status_transports(runtime.db)
    dispatcher = Dispatcher(runtime.db, runtime.clock, transports, "test")

    async def run() -> list[str]:
        try:
            return [r.status for r in await dispatcher.drain()]
        finally:
            for transport in transports.values():
                await transport.aclose()

    return asyncio.run(run())


def mails(smtp: tuple[SmtpRecorder, Controller]) -> list[MailMessage]:
    return [email.message_from_bytes(e.content) for e in smtp[0].envelopes]  # type: ignore[arg-type]


def link(mail: MailMessage, pattern: str) -> str:
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    found = re.search(pattern, text.get_payload(decode=True).decode())  # type: ignore[union-attr]
    assert found is not None
    return found.group(0)


def post_update(runtime: Runtime, clock: FakeClock, components: dict[str, str]) -> None:
    with runtime.db.session() as session, session.begin():
        service.open_public_incident(
            session,
            name="Payments failing",
            status="investigating",
            body="Card payments fail.",
            component_statuses=components,
            by="alice",
            now=clock.now(),
        )


def test_double_opt_in_then_updates_then_one_click_unsubscribe(
    client: TestClient,
    runtime: Runtime,
    clock: FakeClock,
    smtp: tuple[SmtpRecorder, Controller],
) -> None:
    answer = client.post("/status/subscribe", data={"email": "Fan@Example.com"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.text
    post_update(runtime, clock, {"payments": "partial_outage"})
    assert deliver(runtime) == ["delivered"]  # the confirmation only: not yet subscribed
    [confirmation] = mails(smtp)
    assert confirmation["To"] == "fan@example.com"
    url = link(
        confirmation, r"https://ops\.pawfectmatch\.test/status/subscriptions/confirm\?token=\S+"
    )
    token = url.split("token=")[1]
    page = client.get(url.removeprefix("https://ops.pawfectmatch.test"))
    assert "Confirm subscription" in page.text  # a GET (a mail scanner) confirms nothing
    assert client.post("/status/subscriptions/confirm", data={"token": token}).status_code == 200
    post_update(runtime, clock, {"payments": "major_outage"})
    assert deliver(runtime) == ["delivered"]
    update = mails(smtp)[-1]
    assert update["Subject"] == "[PawfectMatch] Payments failing: Investigating"
    unsubscribe = update["List-Unsubscribe"].strip("<>")
    assert update["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the URL itself.
    one_click = client.post(
        unsubscribe.removeprefix("https://ops.pawfectmatch.test"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert one_click.status_code == 200
    assert "Unsubscribed" in one_click.text
    post_update(runtime, clock, {"payments": "major_outage"})
    assert deliver(runtime) == []


def test_a_subscriber_to_some_components_hears_only_of_those(
    runtime: Runtime, clock: FakeClock, smtp: tuple[SmtpRecorder, Controller]
) -> None:
    with runtime.db.session() as session, session.begin():
        row = subscribers.subscribe_email(
            session,
            config=runtime.config,
            address="a@example.com",
            components=["API"],
            now=clock.now(),
        )
        subscribers.confirm(session, config=runtime.config, token=row.token, now=clock.now())
    post_update(runtime, clock, {"payments": "partial_outage"})
    post_update(runtime, clock, {"api": "partial_outage"})
    deliver(runtime)
    subjects = [m["Subject"] for m in mails(smtp)]
    assert sorted(subjects) == [
        "Confirm your subscription to PawfectMatch status",
        "[PawfectMatch] Payments failing: Investigating",  # the API update; not the Payments one
    ]


def test_webhook_subscribers_get_signed_json_once(
    runtime: Runtime, clock: FakeClock, receiver: WebhookReceiver
) -> None:
    with runtime.db.session() as session, session.begin():
        row = subscribers.add_webhook(
            session, config=runtime.config, url=receiver.url, components=[], now=clock.now()
        )
        assert row.secret
        receiver.secret = row.secret
    post_update(runtime, clock, {"api": "major_outage"})
    assert deliver(runtime) == ["delivered"]
    JobRunner(
        db=runtime.db, registry=runtime.jobs, clock=runtime.clock, worker_id="again"
    ).run_until_idle()
    with runtime.db.session() as session, session.begin():  # a repeated job queues nothing
        assert (
            subscribers.deliver_update(session, config=runtime.config, update_id=1, now=clock.now())
            == 0
        )
    [request] = receiver.requests
    assert request.signature_ok
    body = json.loads(request.body)
    assert body["event"] == "status.incident_update"
    assert body["message"]["url"].startswith("https://ops.pawfectmatch.test/status/incidents/")
    with runtime.db.read_session() as session:
        stored = session.scalars(select(Notification.message)).all()
    assert row.secret not in json.dumps(stored)  # the secret never sits in the outbox


def test_the_form_is_protected_from_abuse(
    client: TestClient, runtime: Runtime, smtp: tuple[SmtpRecorder, Controller]
) -> None:
    bot = client.post("/status/subscribe", data={"email": "bot@example.com", "website": "x"})
    assert bot.status_code == 200  # looks accepted, does nothing
    for n in range(5):  # max_signups_per_address
        assert (
            client.post("/status/subscribe", data={"email": f"p{n}@example.com"}).status_code == 200
        )
    assert client.post("/status/subscribe", data={"email": "p9@example.com"}).status_code == 429
    with runtime.db.read_session() as session:
        addresses = {r.address for r in subscribers.list_subscribers(session)}
    assert addresses == {f"p{n}@example.com" for n in range(5)}


def test_asking_again_does_not_mail_again_within_the_window(
    runtime: Runtime, clock: FakeClock
) -> None:
    with runtime.db.session() as session, session.begin():
        for _ in range(3):
            subscribers.subscribe_email(
                session,
                config=runtime.config,
                address="x@example.com",
                components=[],
                now=clock.now(),
            )
    with runtime.db.read_session() as session:
        keys = session.scalars(select(Notification.idempotency_key)).all()
    assert len(keys) == 1


def test_bad_addresses_and_old_links_are_refused(client: TestClient) -> None:
    assert client.post("/status/subscribe", data={"email": "nope"}).status_code == 422
    assert client.post("/status/subscriptions/confirm", data={"token": "forged"}).status_code == 400
    assert client.post("/status/unsubscribe?token=forged").status_code == 400
