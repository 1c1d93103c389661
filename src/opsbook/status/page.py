"""The public HTML pages, rendered once per snapshot from a PageState (never per request).

The pages need no JavaScript: tooltips are SVG ``<title>``s, pagination is links, the
subscribe form is a plain POST.  Their own Jinja environment keeps the operator layout
(and its session-bound bits) out of them.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from opsbook.status import bars
from opsbook.status.components import INDICATOR_DESCRIPTIONS, STATUS_LABELS
from opsbook.status.config import Colours
from opsbook.status.state import PageState

TEMPLATES = Path(__file__).parent / "templates"
PUBLIC_UPDATE_LABELS = {
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
    "postmortem": "Postmortem",
    "scheduled": "Scheduled",
    "in_progress": "In progress",
    "verifying": "Verifying",
    "completed": "Completed",
}
# The banner's colour for each page indicator.
_BANNER = {
    "none": "operational",
    "maintenance": "under_maintenance",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
}


def _when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%b %d, %Y %H:%M UTC")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals.update(labels=PUBLIC_UPDATE_LABELS, status_labels=STATUS_LABELS)
    return env


def colour_vars(colours: Colours) -> dict[str, str]:
    """CSS custom properties: the configured colours and a readable text colour for each."""
    out = {}
    for name, value in colours.model_dump().items():
        key = name.replace("_", "-")
        out[f"--{key}"] = value
        out[f"--{key}-text"] = bars.contrast_text(value)
    return out


def theme(state: PageState) -> dict[str, str]:
    return colour_vars(state.page.colours)


def _common(state: PageState) -> dict[str, Any]:
    page = state.page
    return {
        "state": state,
        "name": state.name,
        "logo_url": page.logo_url,
        "logo_alt": page.logo_alt or f"{state.name} logo",
        "theme": theme(state),
        "subscribe": page.subscribers.email_channel is not None,
        "components": [{"id": c.component.id, "name": c.component.name} for c in state.components],
    }


def render_page(state: PageState) -> str:
    """The status page: banner, active incidents, maintenance, components, recent history."""
    colours = state.page.colours
    groups: list[dict[str, Any]] = []
    by_name: dict[str | None, dict[str, Any]] = {}
    for item in state.components:
        c = item.component
        group = by_name.get(c.group)
        if group is None:
            group = {"name": c.group, "id": c.group_id or "ungrouped", "members": []}
            by_name[c.group] = group
            groups.append(group)
        uptime = state.uptime[c.id]
        group["members"].append(
            {
                "id": c.id,
                "name": c.name,
                "description": c.description,
                "status": item.status,
                "label": STATUS_LABELS[item.status],
                "bar": bars.uptime_bar(c.name, state.days[c.id], uptime, colours),
                "uptime": "no data" if uptime is None else f"{uptime * 100:.2f}% uptime",
            }
        )
    maintenances = [m for m in state.maintenances if m.status in ("scheduled", "in_progress")]
    per_page = state.page.history_per_page
    past = [i for i in state.incidents if not i.is_open]
    return (
        environment()
        .get_template("status_page.html")
        .render(
            **_common(state),
            banner=_BANNER[state.indicator],
            description=INDICATOR_DESCRIPTIONS[state.indicator],
            active=state.unresolved,
            maintenances=sorted(maintenances, key=lambda m: m.scheduled_for),
            groups=groups,
            patterns=bars.patterns(colours),
            past=past[:per_page],
            more=len(past) > per_page,
        )
    )


def history_pages(state: PageState) -> dict[int, str]:
    """``/status/history?page=N`` for every N (page 1 is also ``/status/history``)."""
    per_page = state.page.history_per_page
    past = [i for i in state.incidents if not i.is_open]
    count = max(1, math.ceil(len(past) / per_page))
    env = environment()
    return {
        number: env.get_template("status_history.html").render(
            **_common(state),
            incidents=past[(number - 1) * per_page : number * per_page],
            number=number,
            pages=count,
        )
        for number in range(1, count + 1)
    }


def incident_pages(state: PageState) -> dict[str, str]:
    """One page per published incident (the JSON's ``shortlink``)."""
    env = environment()
    names = {c.component.id: c.component.name for c in state.components}
    return {
        view.code: env.get_template("status_incident.html").render(
            **_common(state), incident=view, component_names=names
        )
        for view in state.incidents
    }


def render_message(
    state_name: str,
    *,
    title: str,
    message: str,
    form: dict[str, str] | None,
    theme_vars: dict[str, str],
    status_code: int = 200,
) -> str:
    """A small page for the subscribe, confirm and unsubscribe answers (rendered per request)."""
    return (
        environment()
        .get_template("status_message.html")
        .render(
            name=state_name,
            title=title,
            message=message,
            form=form,
            theme=theme_vars,
            logo_url=None,
            logo_alt="",
            status_code=status_code,
        )
    )
