"""The seeds' postmortem template, filled in from an incident's record.

Sections and their questions follow the runbooks' "Post-Mortem Template".  What the
record holds (the incident's timestamps, impact, roles and timeline entries) is written
as facts; what only people know stays as the template's questions, in italics, for the
author to replace.  Every time written here is a timestamp stored on the incident or on
one of its timeline entries, printed in UTC to the second (:func:`stamp`); nothing is
estimated or rounded into a new instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from opsbook.config.values import format_duration
from opsbook.incidents.models import Incident, IncidentEvent, IncidentRole
from opsbook.incidents.timeline import EVENT_KINDS

# (key, title, the template's questions), in the seeds' order.
SECTIONS: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    (
        "summary",
        "Incident Summary",
        (
            "What happened?",
            "When did it occur?",
            "How long did it last?",
            "Who was affected?",
        ),
    ),
    ("timeline", "Timeline", ("Detection time", "Response time", "Resolution time")),
    ("root_cause", "Root Cause", ("What caused the incident?", "Why did it happen?")),
    ("impact", "Impact", ("Users affected", "Revenue impact", "Reputation impact")),
    ("resolution", "Resolution", ("How was it fixed?", "Temporary workarounds")),
    (
        "prevention",
        "Prevention",
        ("What can we do to prevent this?", "Action items with owners"),
    ),
    ("lessons_learned", "Lessons Learned", ("What went well?", "What could be improved?")),
)
SECTION_KEYS: Final[tuple[str, ...]] = tuple(key for key, _, _ in SECTIONS)
SECTION_TITLES: Final[dict[str, str]] = {key: title for key, title, _ in SECTIONS}

# Timeline entries worth a line in the postmortem: not the notification bookkeeping, nor
# what was written about the postmortem itself.
_TIMELINE_KINDS: Final[frozenset[str]] = frozenset(
    kind
    for kind in EVENT_KINDS
    if not kind.startswith(("notification_", "postmortem_", "action_item_"))
)
_CELL_LENGTH = 140


@dataclass(frozen=True, slots=True)
class DraftSection:
    key: str
    title: str
    body: str
    prompt_only: bool


@dataclass(frozen=True, slots=True)
class Record:
    """What a draft is written from: the incident and what the database holds about it."""

    incident: Incident
    events: Sequence[IncidentEvent]
    roles: Sequence[IncidentRole]
    meaning: str
    response_target: timedelta
    timezone: ZoneInfo


def stamp(value: datetime) -> str:
    """How the postmortem prints a recorded instant: ``2026-01-05 09:00:00 UTC``."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _when(value: datetime, zone: ZoneInfo) -> str:
    """A recorded instant, and the service's wall-clock time when that is not UTC."""
    if zone.key == "UTC":
        return stamp(value)
    return f"{stamp(value)} ({value.astimezone(zone):%H:%M} {zone.key})"


def span(delta: timedelta) -> str:
    """A duration for people: ``4m 10s``, ``1h 5m``, ``2d 3h``."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _prompt(question: str) -> str:
    return f"_{question}_"


def _cell(text: str) -> str:
    line = " ".join(text.split())
    if len(line) > _CELL_LENGTH:
        line = line[: _CELL_LENGTH - 1] + "…"
    return line.replace("|", "\\|")


def _transitions_to(record: Record, status: str) -> list[IncidentEvent]:
    return [e for e in record.events if e.kind == "status_changed" and e.data.get("to") == status]


def _summary(record: Record) -> DraftSection:
    incident = record.incident
    paragraphs = [f"**What happened?** {incident.title}."]
    if incident.summary.strip():
        paragraphs.append(incident.summary.strip())
    paragraphs.append(_prompt("Describe what happened in a few sentences."))
    paragraphs.append(
        f"**When did it occur?** Detected at {_when(incident.triggered_at, record.timezone)}."
    )
    if incident.resolved_at is not None:
        paragraphs.append(
            f"**How long did it last?** {span(incident.resolved_at - incident.triggered_at)}, "
            f"from {stamp(incident.triggered_at)} to its resolution at "
            f"{stamp(incident.resolved_at)}."
        )
    else:
        paragraphs.append(f"**How long did it last?** {_prompt('Not resolved yet.')}")
    paragraphs.append(f"**Who was affected?** {_affected(incident)}")
    if record.roles:
        held = "; ".join(f"{r.role} {r.person}" for r in record.roles)
        paragraphs.append(f"**Who responded?** {held}.")
    return DraftSection("summary", "Incident Summary", "\n\n".join(paragraphs), prompt_only=False)


def _affected(incident: Incident) -> str:
    parts = []
    if incident.users_affected is not None:
        parts.append(f"about {incident.users_affected:,} users (estimate)")
    if incident.components:
        parts.append("components " + ", ".join(incident.components))
    if incident.service:
        parts.append(f"service {incident.service}")
    text = "; ".join(parts) + "." if parts else ""
    if incident.users_affected is None and not incident.components:
        text += " " + _prompt("No impact estimate was recorded: who was affected?")
    return text.strip()


def _timeline(record: Record) -> DraftSection:
    incident = record.incident
    lines = ["All times are UTC, as recorded.", ""]
    lines.append(f"- **Detection time:** {stamp(incident.triggered_at)}")
    if incident.acknowledged_at is not None:
        lines.append(
            f"- **Response time:** {stamp(incident.acknowledged_at)} "
            f"({span(incident.acknowledged_at - incident.triggered_at)} after detection)"
        )
    else:
        lines.append("- **Response time:** not acknowledged before it was resolved")
    if incident.mitigated_at is not None:
        lines.append(
            f"- **Mitigated:** {stamp(incident.mitigated_at)} "
            f"({span(incident.mitigated_at - incident.triggered_at)} after detection)"
        )
    if incident.resolved_at is not None:
        lines.append(
            f"- **Resolution time:** {stamp(incident.resolved_at)} "
            f"({span(incident.resolved_at - incident.triggered_at)} after detection)"
        )
    entries = [e for e in record.events if e.kind in _TIMELINE_KINDS]
    if entries:
        lines += ["", "| time | what | who |", "|---|---|---|"]
        lines += [f"| {stamp(e.at)} | {_cell(_describe(e))} | {_cell(e.actor)} |" for e in entries]
    return DraftSection("timeline", "Timeline", "\n".join(lines), prompt_only=False)


def _describe(entry: IncidentEvent) -> str:
    data = entry.data
    match entry.kind:
        case "created":
            return f"Incident opened as {data.get('severity')}: {data.get('title')}"
        case "status_changed":
            reason = f": {data['reason']}" if data.get("reason") else ""
            return f"Status {data.get('from')} → {data.get('to')}{reason}"
        case "severity_changed":
            reason = f": {data['reason']}" if data.get("reason") else ""
            return f"Severity {data.get('from')} → {data.get('to')}{reason}"
        case "acknowledged":
            return "Acknowledged"
        case "note":
            return f"Note: {entry.body}"
        case "output_attached":
            return f"Output attached: {data.get('label')}"
        case "checklist_ticked":
            return f"Checklist: {data.get('item')} ✓"
        case _:
            return entry.body or entry.kind.replace("_", " ")


def _root_cause(record: Record) -> DraftSection:
    questions = [_prompt(q) for q in ("What caused the incident?", "Why did it happen?")]
    facts = [
        f"- Identified at {stamp(e.at)} by {e.actor}: {e.data['reason']}"
        for e in _transitions_to(record, "identified")
        if e.data.get("reason")
    ]
    if not facts:
        return DraftSection("root_cause", "Root Cause", "\n\n".join(questions), prompt_only=True)
    body = "From the timeline:\n\n" + "\n".join(facts) + "\n\n" + "\n\n".join(questions)
    return DraftSection("root_cause", "Root Cause", body, prompt_only=False)


def _impact(record: Record) -> DraftSection:
    incident = record.incident
    lines = [f"- **Severity:** {incident.severity}, {record.meaning}"]
    if incident.users_affected is not None:
        lines.append(f"- **Users affected:** about {incident.users_affected:,} (estimate)")
    else:
        lines.append(f"- **Users affected:** {_prompt('How many? No estimate was recorded.')}")
    if incident.components:
        lines.append("- **Components:** " + ", ".join(incident.components))
    if incident.mitigated_at is not None:
        lines.append(
            f"- **Impact until mitigation:** {span(incident.mitigated_at - incident.triggered_at)}"
        )
    if incident.resolved_at is not None:
        lines.append(
            f"- **Impact until resolution:** {span(incident.resolved_at - incident.triggered_at)}"
        )
    lines += [f"- **Revenue impact:** {_prompt('Revenue impact?')}"]
    lines += [f"- **Reputation impact:** {_prompt('Reputation impact?')}"]
    return DraftSection("impact", "Impact", "\n".join(lines), prompt_only=False)


def _resolution(record: Record) -> DraftSection:
    lines = []
    for status, verb in (("mitigated", "Mitigated"), ("resolved", "Resolved")):
        for e in _transitions_to(record, status):
            reason = f": {e.data['reason']}" if e.data.get("reason") else ""
            lines.append(f"- {verb} at {stamp(e.at)} by {e.actor}{reason}")
    questions = [_prompt("How was it fixed?"), _prompt("Temporary workarounds?")]
    body = "\n".join(lines) + ("\n\n" if lines else "") + "\n\n".join(questions)
    return DraftSection("resolution", "Resolution", body, prompt_only=not lines)


def _prevention(record: Record) -> DraftSection:
    body = "\n\n".join(
        [
            _prompt("What can we do to prevent this?"),
            _prompt("Action items with owners: add them to this postmortem's action items."),
        ]
    )
    return DraftSection("prevention", "Prevention", body, prompt_only=True)


def _lessons(record: Record) -> DraftSection:
    incident = record.incident
    target = format_duration(record.response_target)
    facts = []
    if incident.breached_at is not None:
        facts.append(
            f"- The {incident.severity} response target ({target}) was missed: no "
            f"acknowledgement by {stamp(incident.breached_at)}."
        )
    elif incident.acknowledged_at is not None:
        met = incident.acknowledged_at - incident.triggered_at <= record.response_target
        verdict = "was met" if met else "was missed"
        facts.append(
            f"- The {incident.severity} response target ({target}) {verdict}: acknowledged "
            f"{span(incident.acknowledged_at - incident.triggered_at)} after detection."
        )
    elif incident.resolved_at is not None:
        took = incident.resolved_at - incident.triggered_at
        verdict = "was met" if took <= record.response_target else "was missed"
        facts.append(
            f"- The {incident.severity} response target ({target}) {verdict}: never "
            f"acknowledged; resolved {span(took)} after detection."
        )
    escalations = [e for e in record.events if e.kind == "escalated"]
    if escalations:
        facts.append(f"- Escalated {len(escalations)} time(s).")
    questions = [_prompt("What went well?"), _prompt("What could be improved?")]
    body = "\n".join(facts) + ("\n\n" if facts else "") + "\n\n".join(questions)
    return DraftSection("lessons_learned", "Lessons Learned", body, prompt_only=not facts)


def draft_sections(record: Record) -> list[DraftSection]:
    """The seven sections of a new postmortem, in the template's order."""
    return [
        _summary(record),
        _timeline(record),
        _root_cause(record),
        _impact(record),
        _resolution(record),
        _prevention(record),
        _lessons(record),
    ]
