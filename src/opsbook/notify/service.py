"""Enqueueing notifications: what every domain calls inside its own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from opsbook.core import outbox
from opsbook.notify.base import ChannelConfig
from opsbook.notify.message import Message
from opsbook.notify.registry import transport_class

MAX_IDEMPOTENCY_KEY_LENGTH = 255  # the column's width


class UnknownChannel(LookupError):
    """The named channel is not in the configuration."""


def notify(
    session: Session,
    *,
    channels: Mapping[str, ChannelConfig],
    channel: str,
    message: Message,
    idempotency_key: str,
    now: datetime,
    target: str | None = None,
    source: str | None = None,
    max_attempts: int | None = None,
    deliver_at: datetime | None = None,
) -> bool:
    """Put ``message`` in the outbox for ``channel``; a repeated key changes nothing.

    Call it in the transaction of the change that causes the message: both commit or
    neither does.  Returns whether a new notification was written.  ``max_attempts``
    defaults to the outbox's (``settings.notifications.max_attempts`` is the configured
    one); ``deliver_at`` holds the notification back until then (a reminder).

    >>> with transaction(db.session) as session:
    ...     incident = incidents.trigger(session=session, ...)
    ...     notify(session, channels=channels, channel="oncall-mail", message=message,
    ...            idempotency_key=f"incident:{incident.id}:triggered:oncall-mail", now=now)
    """
    config = channels.get(channel)
    if config is None:
        known = ", ".join(sorted(channels)) or "none"
        raise UnknownChannel(f'no channel named "{channel}" is configured (channels: {known})')
    if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValueError(
            f"an idempotency key needs 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters, "
            f"got {len(idempotency_key)}"
        )
    if target is not None:
        transport_class(config.kind).check_target(target)
    options: dict[str, Any] = {"deliver_at": deliver_at}
    if max_attempts is not None:
        options["max_attempts"] = max_attempts
    return outbox.enqueue(
        session,
        channel=channel,
        kind=config.kind,
        message=message.to_dict(),
        idempotency_key=idempotency_key,
        now=now,
        target=target,
        source=source,
        **options,
    )
