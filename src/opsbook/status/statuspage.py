"""Statuspage v2 public JSON (``/api/v2/summary.json`` and its siblings) from a PageState.

Shapes and enums follow Statuspage's public API documentation, so dashboards, bots and
widgets written for a Statuspage page read Opsbook's unchanged.  Fields Statuspage
documents are always present; a few it serves but documents only in passing (group
components, ``components`` of an incident) are present too, as on a real page.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from opsbook.status.components import (
    INDICATOR_DESCRIPTIONS,
    STATUS_LABELS,
    worst,
)
from opsbook.status.state import IncidentView, MaintenanceView, PageState, UpdateView

# path -> builder; what the snapshot stores and every server answers.
MAX_LISTED = 50


def stamp(value: datetime | None) -> str | None:
    """Statuspage writes ISO 8601 with milliseconds: ``2026-01-05T09:00:00.000Z``."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page_id(state: PageState) -> str:
    return hashlib.sha256(state.url.encode()).hexdigest()[:12]


def _page(state: PageState) -> dict[str, Any]:
    return {
        "id": page_id(state),
        "name": state.name,
        "url": state.url,
        "time_zone": state.config.service.timezone.key,
        "updated_at": stamp(state.updated_at),
    }


def components(state: PageState, times: dict[str, tuple[datetime, datetime]]) -> list[Any]:
    """Components and their groups; ``times`` gives each id's (created_at, updated_at)."""
    pid = page_id(state)
    out: list[dict[str, Any]] = []
    groups: dict[str, list[str]] = {}
    group_status: dict[str, list[str]] = {}
    for position, item in enumerate(state.components, start=1):
        c = item.component
        created, updated = times.get(c.id, (state.now, state.now))
        if c.group_id:
            groups.setdefault(c.group_id, []).append(c.id)
            group_status.setdefault(c.group_id, []).append(item.status)
        out.append(
            {
                "id": c.id,
                "name": c.name,
                "status": item.status,
                "created_at": stamp(created),
                "updated_at": stamp(updated),
                "position": position,
                "description": c.description or None,
                "showcase": True,
                "start_date": None,
                "group_id": c.group_id,
                "page_id": pid,
                "group": False,
                "only_show_if_degraded": False,
            }
        )
    names = {item.component.group_id: item.component.group for item in state.components}
    for position, (group_id, members) in enumerate(groups.items(), start=len(out) + 1):
        created = min(times.get(m, (state.now, state.now))[0] for m in members)
        updated = max(times.get(m, (state.now, state.now))[1] for m in members)
        out.append(
            {
                "id": group_id,
                "name": names[group_id],
                "status": worst(group_status[group_id]),
                "created_at": stamp(created),
                "updated_at": stamp(updated),
                "position": position,
                "description": None,
                "showcase": False,
                "start_date": None,
                "group_id": None,
                "page_id": pid,
                "group": True,
                "only_show_if_degraded": False,
                "components": members,
            }
        )
    return out


def _update(
    update: UpdateView, incident_code: str, names: dict[str, str], previous: dict[str, str]
) -> dict[str, Any]:
    affected = [
        {
            "code": cid,
            "name": names.get(cid, cid),
            "old_status": previous.get(cid, "operational"),
            "new_status": status,
        }
        for cid, status in update.component_statuses.items()
    ]
    return {
        "id": update.code,
        "status": update.status,
        "body": update.body,
        "incident_id": incident_code,
        "created_at": stamp(update.created_at),
        "updated_at": stamp(update.created_at),
        "display_at": stamp(update.created_at),
        "affected_components": affected or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def _updates(view: IncidentView | MaintenanceView, names: dict[str, str]) -> list[Any]:
    out = []
    chronological = list(reversed(view.updates))
    previous: dict[str, str] = {}
    for update in chronological:
        out.append(_update(update, view.code, names, previous))
        previous = {**previous, **update.component_statuses}
    return list(reversed(out))


def incident(state: PageState, view: IncidentView, listed: list[Any]) -> dict[str, Any]:
    names = {c.component.id: c.component.name for c in state.components}
    return {
        "id": view.code,
        "name": view.name,
        "status": view.status,
        "created_at": stamp(view.published_at),
        "updated_at": stamp(view.updated_at),
        "monitoring_at": stamp(view.monitoring_at),
        "resolved_at": stamp(view.resolved_at),
        "impact": view.impact,
        "shortlink": f"{state.url}/incidents/{view.code}",
        "started_at": stamp(view.published_at),
        "page_id": page_id(state),
        "incident_updates": _updates(view, names),
        "components": [c for c in listed if c["id"] in view.components],
    }


def maintenance(state: PageState, view: MaintenanceView, listed: list[Any]) -> dict[str, Any]:
    names = {c.component.id: c.component.name for c in state.components}
    resolved = view.updates[0].created_at if view.status == "completed" and view.updates else None
    return {
        "id": view.code,
        "name": view.name,
        "status": view.status,
        "created_at": stamp(view.created_at),
        "updated_at": stamp(view.updated_at),
        "monitoring_at": None,
        "resolved_at": stamp(resolved),
        "impact": view.impact,
        "shortlink": f"{state.url}/maintenances/{view.code}",
        "started_at": stamp(view.scheduled_for),
        "page_id": page_id(state),
        "incident_updates": _updates(view, names),
        "components": [c for c in listed if c["id"] in view.components],
        "scheduled_for": stamp(view.scheduled_for),
        "scheduled_until": stamp(view.scheduled_until),
    }


def status_block(state: PageState) -> dict[str, str]:
    return {"indicator": state.indicator, "description": INDICATOR_DESCRIPTIONS[state.indicator]}


def documents(
    state: PageState, times: dict[str, tuple[datetime, datetime]]
) -> dict[str, dict[str, Any]]:
    """Every Statuspage-compatible document, by its path."""
    page = _page(state)
    listed = components(state, times)
    incidents = [incident(state, v, listed) for v in state.incidents[:MAX_LISTED]]
    unresolved = [incident(state, v, listed) for v in state.unresolved]
    maints = [maintenance(state, v, listed) for v in state.maintenances[:MAX_LISTED]]
    upcoming = [m for m in maints if m["status"] == "scheduled"]
    active = [m for m in maints if m["status"] in ("in_progress", "verifying")]
    return {
        "/api/v2/summary.json": {
            "page": page,
            "status": status_block(state),
            "components": listed,
            "incidents": unresolved,
            "scheduled_maintenances": upcoming + active,
        },
        "/api/v2/status.json": {"page": page, "status": status_block(state)},
        "/api/v2/components.json": {"page": page, "components": listed},
        "/api/v2/incidents.json": {"page": page, "incidents": incidents},
        "/api/v2/incidents/unresolved.json": {"page": page, "incidents": unresolved},
        "/api/v2/scheduled-maintenances.json": {"page": page, "scheduled_maintenances": maints},
        "/api/v2/scheduled-maintenances/upcoming.json": {
            "page": page,
            "scheduled_maintenances": upcoming,
        },
        "/api/v2/scheduled-maintenances/active.json": {
            "page": page,
            "scheduled_maintenances": active,
        },
    }


__all__ = ["STATUS_LABELS", "documents", "stamp"]
