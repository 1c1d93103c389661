"""Subscribers: email (double opt-in, one-click unsubscribe) and signed webhooks.

A new public update books a ``status.notify_subscribers`` job in its own transaction
(:func:`opsbook.status.service.schedule_notification`); the job puts one outbox row per
matching subscriber, each with the idempotency key ``status:update:{update}:{subscriber}``,
so a retried job sends nothing twice and a crash loses nothing.

- Email goes through the channel named by ``status_page.subscribers.email_channel``
  (its SMTP server and From), to the subscriber's address, with ``List-Unsubscribe`` and
  ``List-Unsubscribe-Post`` (RFC 8058) so mail clients offer one-click unsubscribe.
- Webhooks go through the outbox channel :data:`WEBHOOK_CHANNEL`, whose transport
  (:mod:`opsbook.status.delivery`) signs each body with the subscriber's own secret the
  way the webhook channel does.  Webhook subscribers are added by an admin (API, CLI),
  never by the public form: a public form that makes Opsbook POST to any URL would let
  anyone reach the private network behind it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.config import OpsbookConfig
from opsbook.core import outbox
from opsbook.incidents.targets import channels_of
from opsbook.notify.message import Link, Message
from opsbook.notify.service import notify
from opsbook.status.components import catalogue, resolve_component
from opsbook.status.models import StatusIncident, StatusIncidentUpdate, Subscriber
from opsbook.status.page import PUBLIC_UPDATE_LABELS
from opsbook.status.service import StatusError, StatusNotFound
from opsbook.status.state import page_url

WEBHOOK_CHANNEL: Final = "status:webhooks"  # not a valid channel name, so never a clash
_EMAIL = re.compile(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+")
MAX_URL = 255


def _components(config: OpsbookConfig, refs: Sequence[str]) -> list[str] | None:
    if not refs:
        return None
    known = catalogue(config)
    try:
        return sorted({resolve_component(known, ref).id for ref in refs})
    except ValueError as exc:
        raise StatusError(str(exc)) from None


def _token() -> str:
    return secrets.token_urlsafe(24)


def _links(config: OpsbookConfig) -> tuple[str, str]:
    """(the page's URL, the base of the Opsbook app that answers subscriber links)."""
    base = (config.settings.public_url or "http://127.0.0.1:8080").rstrip("/")
    return page_url(config), base


def subscribe_email(
    session: Session,
    *,
    config: OpsbookConfig,
    address: str,
    components: Sequence[str],
    now: datetime,
    remote_addr: str | None = None,
) -> Subscriber:
    """Sign ``address`` up, pending its confirmation; mails the confirmation link.

    Asking again for a pending address mails a fresh link at most once per
    ``signup_window``; an active address gets no mail (and the caller says the same
    thing either way, so the form does not reveal who subscribed).
    """
    channel = config.status_page.subscribers.email_channel
    if channel is None:
        raise StatusError("email subscriptions are not enabled on this status page")
    address = address.strip()
    if not _EMAIL.fullmatch(address) or len(address) > MAX_URL:
        raise StatusError("that does not look like an email address")
    wanted = _components(config, components)
    row = session.scalar(
        select(Subscriber).where(Subscriber.kind == "email", Subscriber.address == address.lower())
    )
    if row is not None and row.state == "active":
        return row
    window = config.status_page.subscribers.signup_window
    if (
        row is not None
        and row.state == "pending"
        and row.confirmation_sent_at is not None
        and now - row.confirmation_sent_at < window
    ):
        return row
    if row is None:
        row = Subscriber(kind="email", address=address.lower(), created_at=now)
        session.add(row)
    row.components, row.token, row.state = wanted, _token(), "pending"
    row.confirmation_sent_at, row.remote_addr, row.left_at = now, remote_addr, None
    session.flush()
    page, base = _links(config)
    link = f"{base}/status/subscriptions/confirm?token={row.token}"
    name = config.status_page.name or config.service.name
    notify(
        session,
        channels=channels_of(config),
        channel=channel,
        target=row.address,
        message=Message(
            title=f"Confirm your subscription to {name} status",
            text=f"Someone (hopefully you) asked for updates from {page}.\n\n"
            f"To confirm, open this link: {link}\n\n"
            "If it was not you, ignore this mail: nothing will be sent.",
            links=(Link("Confirm subscription", link),),
            event="status.subscription_confirm",
        ),
        idempotency_key=f"status:confirm:{row.id}:{row.token[:12]}",
        now=now,
        source="status",
    )
    return row


def by_token(session: Session, token: str) -> Subscriber:
    row = session.scalar(select(Subscriber).where(Subscriber.token == token)) if token else None
    if row is None:
        raise StatusNotFound("this link is not valid (it may have been replaced by a newer one)")
    return row


def confirm(session: Session, *, config: OpsbookConfig, token: str, now: datetime) -> Subscriber:
    row = by_token(session, token)
    if row.state == "active":
        return row
    if row.state != "pending":
        raise StatusError("this subscription was cancelled; subscribe again to get updates")
    sent = row.confirmation_sent_at or row.created_at
    if now - sent > config.status_page.subscribers.confirm_within:
        raise StatusError("this confirmation link has expired; subscribe again")
    row.state, row.confirmed_at = "active", now
    return row


def unsubscribe(session: Session, *, token: str, now: datetime) -> Subscriber:
    """End a subscription; a second click changes nothing."""
    row = by_token(session, token)
    if row.state != "left":
        row.state, row.left_at = "left", now
    return row


def add_webhook(
    session: Session,
    *,
    config: OpsbookConfig,
    url: str,
    components: Sequence[str],
    now: datetime,
) -> Subscriber:
    """Add a webhook subscriber (active at once); its ``secret`` signs every delivery."""
    url = url.strip()
    if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", url) or len(url) > MAX_URL:
        raise StatusError(f"a webhook needs an http(s) URL of at most {MAX_URL} characters")
    row = Subscriber(
        kind="webhook",
        address=url,
        components=_components(config, components),
        token=_token(),
        secret=secrets.token_urlsafe(32),
        state="active",
        created_at=now,
        confirmed_at=now,
    )
    session.add(row)
    session.flush()
    return row


def remove(session: Session, *, subscriber_id: int, now: datetime) -> Subscriber:
    row = session.get(Subscriber, subscriber_id)
    if row is None:
        raise StatusNotFound(f"no subscriber {subscriber_id}")
    row.state, row.left_at = "left", now
    return row


def list_subscribers(session: Session, *, state: str | None = None) -> list[Subscriber]:
    stmt = select(Subscriber).order_by(Subscriber.id)
    if state:
        stmt = stmt.where(Subscriber.state == state)
    return list(session.scalars(stmt))


def update_message(
    config: OpsbookConfig, incident: StatusIncident, update: StatusIncidentUpdate
) -> Message:
    page, _ = _links(config)
    names = {c.id: c.name for c in catalogue(config)}
    affected = ", ".join(names.get(c, c) for c in incident.components) or "none named"
    name = config.status_page.name or config.service.name
    label = PUBLIC_UPDATE_LABELS[update.status]
    return Message(
        title=f"[{name}] {incident.name}: {label}",
        text=f"{label}: {update.body}\n\nAffected: {affected}",
        url=f"{page}/incidents/{incident.code}",
        fields={"incident": incident.code, "status": update.status, "impact": incident.impact},
        event="status.incident_update",
    )


def deliver_update(
    session: Session, *, config: OpsbookConfig, update_id: int, now: datetime
) -> int:
    """Queue ``update`` for every active subscriber it concerns; returns how many were new."""
    update = session.get(StatusIncidentUpdate, update_id)
    if update is None:
        return 0
    incident = session.get(StatusIncident, update.status_incident_id)
    if incident is None or incident.published_at is None:
        return 0
    message = update_message(config, incident, update)
    channel = config.status_page.subscribers.email_channel
    channels = channels_of(config)
    _, base = _links(config)
    touched = set(incident.components) | set(update.component_statuses)
    queued = 0
    for row in list_subscribers(session, state="active"):
        if row.components is not None and touched and not touched & set(row.components):
            continue
        key = f"status:update:{update.id}:{row.id}"
        if row.kind == "email":
            if channel is None or channel not in channels:
                continue
            unsubscribe_url = f"{base}/status/unsubscribe?token={row.token}"
            personal = dataclasses.replace(
                message,
                unsubscribe_url=unsubscribe_url,
                links=(Link("Unsubscribe", unsubscribe_url),),
            )
            queued += notify(
                session,
                channels=channels,
                channel=channel,
                target=row.address,
                message=personal,
                idempotency_key=key,
                now=now,
                source="status",
            )
        else:
            queued += outbox.enqueue(
                session,
                channel=WEBHOOK_CHANNEL,
                kind="webhook",
                target=str(row.id),
                message=message.to_dict(),
                idempotency_key=key,
                now=now,
                source="status",
            )
    return queued
