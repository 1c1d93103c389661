"""The timeline: append-only entries, with secrets masked before they are stored.

There is deliberately no function here (or anywhere) that updates or deletes an entry:
a correction is a new ``note`` whose ``data["corrects"]`` names the entry it corrects,
so the record of what people knew, and when, is never rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.core.logging import REDACTED, redact, redact_text
from opsbook.incidents.errors import IncidentError
from opsbook.incidents.models import Incident, IncidentEvent

EVENT_KINDS: Final[tuple[str, ...]] = (
    "created",
    "alert_attached",
    "notification_queued",
    "notification_pending",  # a non-channel target handed to its delivery job
    "notification_unreachable",  # no domain could take that target (fallback handler)
    "notification_delivered",  # the outbox delivered one (see incidents/deliveries.py)
    "notification_failed",  # the outbox gave up on one: permanent error or attempts used up
    "acknowledged",
    "status_changed",
    "severity_changed",
    "role_assigned",
    "role_removed",
    "note",
    "output_attached",
    "checklist_ticked",
    "impact_changed",
    "response_breached",
    "escalated",
    "merged",
    # A person was paged (written by on-call, see record_page): reports count these.
    "paged",
    "postmortem_drafted",
    "postmortem_status_changed",
    "postmortem_overdue",  # the postmortem was not published by its due time
    "action_item_added",
    "action_item_changed",
    "action_item_overdue",  # an open action item passed its due date (and each repeat)
    "escalation_repaired",  # the on-call auditor re-scheduled a lost or missing step
)
SYSTEM_ACTOR: Final = "opsbook"  # who writes the entries that jobs write
MAX_OUTPUT_CHARS = 64_000  # a pasted log beyond this is cut: the timeline is not a log store


def _mask_assignment(match: re.Match[str]) -> str:
    value = match[3]
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match[1]}{match[2]}{quote}{REDACTED}{quote}"


# Registered secrets are masked by redact_text; these catch the ones nobody registered,
# which is how they usually arrive: pasted from a terminal into a note.
_TOKEN_PATTERNS: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}"), rf"\1\2{REDACTED}"),
    (
        re.compile(
            r"(?i)\b([a-z0-9_-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key))"
            r"(\"?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;\"']+)"
        ),
        _mask_assignment,
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    (
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20}"
            r"|xox[abpr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|sk_(?:live|test)_[A-Za-z0-9]{16,})\b"
        ),
        REDACTED,
    ),
)


def redact_incident_text(text: str) -> str:
    """Mask registered secrets and anything shaped like a credential.

    >>> redact_incident_text("curl -H 'Authorization: Bearer abc123def' ...")
    "curl -H 'Authorization: Bearer [redacted]' ..."
    """
    text = redact_text(text)
    for pattern, replacement in _TOKEN_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_data(value: Any) -> Any:
    if isinstance(value, str):
        return redact_incident_text(value)
    if isinstance(value, dict):
        return {k: _redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_data(v) for v in value]
    return value


def redact_incident_data(value: Any) -> Any:
    """Mask secrets anywhere in a JSON-like value: under sensitive keys and inside strings."""
    return _redact_data(redact(value))


def append_event(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    actor: str,
    at: datetime,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Add one entry to ``incident``'s timeline in the caller's transaction."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown timeline kind {kind!r}")
    event = IncidentEvent(
        incident_id=incident.id,
        at=at,
        kind=kind,
        actor=actor,
        body=redact_incident_text(body),
        # redact() masks values under sensitive keys; _redact_data masks inside strings.
        data=redact_incident_data(data or {}),
        visibility="internal",
    )
    # No flush here: the incident's own UPDATE (lifecycle.save) must be the first write
    # of a state change, so that a stale version surfaces as a Conflict there.
    session.add(event)
    return event


def record_page(
    session: Session,
    *,
    incident_id: int,
    person: str,
    channel: str,
    level: int,
    step: str,
    notification_key: str,
    at: datetime,
    actor: str = "oncall",
) -> IncidentEvent:
    """Record that ``person`` was paged about the incident: a ``paged`` entry.

    The on-call domain calls this in the transaction that queues the page, with ``at``
    the time it was queued and ``notification_key`` the outbox idempotency key.  Reports
    count these entries as pages (docs/incidents.md, "Reports")::

        record_page(session, incident_id=incident.id, person="alice", channel="sms",
                    level=1, step="primary", notification_key=key, at=now)
    """
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentError(f"no incident with id {incident_id}")
    if not person or not channel or not notification_key:
        raise ValueError("a page needs a person, a channel and a notification key")
    entry = append_event(
        session,
        incident=incident,
        kind="paged",
        actor=actor,
        at=at,
        body=f"paged {person} via {channel} (level {level})",
        data={
            "person": person,
            "channel": channel,
            "level": int(level),
            "step": step,
            "notification_key": notification_key,
        },
    )
    session.flush()
    return entry


def events(
    session: Session, *, incident_id: int, kinds: Collection[str] | None = None
) -> list[IncidentEvent]:
    """The timeline in the order it was written."""
    stmt = select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
    if kinds:
        stmt = stmt.where(IncidentEvent.kind.in_(list(kinds)))
    return list(session.scalars(stmt.order_by(IncidentEvent.id)))


def check_correction(session: Session, *, incident_id: int, corrects: int) -> None:
    target = session.get(IncidentEvent, corrects)
    if target is None or target.incident_id != incident_id:
        raise IncidentError(
            f"entry {corrects} is not in incident {incident_id}'s timeline; "
            "a correction must name an entry of the same incident"
        )


def cut_output(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text, False
    return text[:MAX_OUTPUT_CHARS] + "\n[... output cut ...]", True
