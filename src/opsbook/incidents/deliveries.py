"""How an incident's notifications ended, written back to its timeline.

The outbox delivers after the transaction that queued a notification (``notify`` and
on-call's pages both tag theirs with :func:`outbox_source`).  When a delivery reaches a
final state the dispatcher calls :func:`report_delivery` in the transaction that records
it, so the timeline says what was *delivered*, not only what was queued:

- ``notification_delivered``: the channel accepted it (after ``data.attempts`` tries);
- ``notification_failed``: no retry could help, or the attempts ran out; ``data.error``
  says why (with secrets masked, as everywhere in the timeline).

Retries in between are not written: the outbox and ``/metrics`` hold them, and a
timeline of every 503 from a flapping receiver would bury what people did.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from opsbook.core.outbox import Delivery
from opsbook.incidents.models import Incident
from opsbook.incidents.timeline import SYSTEM_ACTOR, append_event

SOURCE_KIND = "incident"
# The outbox sources report_delivery is about (the dispatcher reports no others).
REPORTED_SOURCES = (f"{SOURCE_KIND}:",)


def outbox_source(incident_id: int) -> str:
    """The ``source`` an incident's notifications are queued with (and reported back by)."""
    return f"{SOURCE_KIND}:{incident_id}"


def report_delivery(
    session: Session, delivery: Delivery, status: str, error: str | None, now: datetime
) -> None:
    """A :data:`opsbook.notify.dispatcher.ReportOutcome` for incidents' notifications."""
    source_kind, _, incident_id = (delivery.source or "").partition(":")
    if source_kind != SOURCE_KIND or not incident_id.isdigit():
        return
    if status not in ("delivered", "dead"):
        return
    incident = session.get(Incident, int(incident_id))
    if incident is None:  # deleted, or not this record's: nothing to tell
        return
    where = delivery.channel + (f" ({delivery.target})" if delivery.target else "")
    title = str(delivery.message.get("title", "")) or "notification"
    data = {
        "channel": delivery.channel,
        "channel_kind": delivery.kind,
        "target": delivery.target,
        "notification_key": delivery.idempotency_key,
        "attempts": delivery.attempts,
    }
    if status == "delivered":
        kind, body = "notification_delivered", f"{title} delivered to {where}"
    else:
        kind, body = "notification_failed", f"{title} could not be delivered to {where}: {error}"
        data["error"] = error
    append_event(
        session, incident=incident, kind=kind, actor=SYSTEM_ACTOR, at=now, body=body, data=data
    )
