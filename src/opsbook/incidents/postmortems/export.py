"""A postmortem exported as Markdown or JSON.

Sections were masked when they were written; the export masks again, because a secret
registered since (a config reload added a channel) may have been pasted before it was
known.  The JSON export is :class:`~.schemas.PostmortemDetail` with the incident beside it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from opsbook.incidents.models import Incident
from opsbook.incidents.postmortems.models import Postmortem
from opsbook.incidents.postmortems.schemas import PostmortemDetail, postmortem_detail
from opsbook.incidents.postmortems.template import stamp
from opsbook.incidents.schemas import incident_out
from opsbook.incidents.timeline import redact_incident_data, redact_incident_text

if TYPE_CHECKING:
    from opsbook.config.schema import OpsbookConfig

EXPORT_FORMATS = ("markdown", "json")


def _cell(value: object) -> str:
    return " ".join(str(value if value is not None else "").split()).replace("|", "\\|")


def render_markdown(detail: PostmortemDetail, incident: Incident) -> str:
    due = "none" if detail.due_at is None else stamp(detail.due_at)
    if detail.overdue:
        due += " (overdue)"
    lines = [
        f"# Postmortem: {detail.title}",
        "",
        "| | |",
        "|---|---|",
        f"| Incident | #{incident.number} · {incident.severity} · {_cell(incident.service)} |",
        f"| Status | {detail.status} |",
        f"| Drafted | {stamp(detail.created_at)} by {_cell(detail.created_by)} |",
        f"| Due | {due} |",
    ]
    if detail.published_at is not None:
        lines.append(f"| Published | {stamp(detail.published_at)} |")
    for position, section in enumerate(detail.sections, start=1):
        lines += ["", f"## {position}. {section.title}", "", section.markdown.strip()]
        if section.key == "prevention":
            lines += ["", "### Action items", ""]
            if detail.action_items:
                lines += ["| # | action | owner | due | status |", "|---|---|---|---|---|"]
                lines += [
                    f"| {item.id} | {_cell(item.title)} | {_cell(item.owner)} | "
                    f"{item.due_on or ''} | {item.status}{' (overdue)' if item.overdue else ''} |"
                    for item in detail.action_items
                ]
            else:
                lines.append("_None yet._")
    return redact_incident_text("\n".join(lines) + "\n")


def export(
    session: Session,
    postmortem: Postmortem,
    *,
    fmt: str,
    config: OpsbookConfig,
    now: datetime,
) -> str:
    """The postmortem as ``markdown`` or ``json`` text."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected markdown or json")
    detail = postmortem_detail(session, postmortem, config=config, now=now)
    incident = session.get_one(Incident, postmortem.incident_id)
    if fmt == "markdown":
        return render_markdown(detail, incident)
    body: dict[str, Any] = {
        "postmortem": detail.model_dump(mode="json"),
        "incident": incident_out(session, incident).model_dump(mode="json"),
    }
    return json.dumps(redact_incident_data(body), indent=2) + "\n"
