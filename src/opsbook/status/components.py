"""Components and how their state is decided, written down as data.

A component's status comes from the first source in :data:`PRECEDENCE` that says
anything about it:

1. ``override``: a person set it by hand (until it expires or is cleared);
2. ``public_incident``: the latest update of an open, published public incident names
   it (what the people talking to customers said); the worst such statement wins;
3. ``maintenance``: a scheduled maintenance in progress covers it;
4. ``derived``: the worse of its checks (all down: ``major_outage``, some down:
   ``partial_outage``) and of the open internal incidents naming it (by severity,
   ``status_page.incident_impact``);
5. otherwise ``operational``.

Humans beat machines, and an explicit statement beats an inference; a maintenance
explains failing checks, so it beats them too.  docs/status-page.md has the same list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from opsbook.config import OpsbookConfig
from opsbook.status.config import COMPONENT_STATUSES, ComponentStatus

PRECEDENCE: Final[tuple[str, ...]] = (
    "override",
    "public_incident",
    "maintenance",
    "derived",
    "default",
)
# How bad a status is, for "the worst of": maintenance is not worse than an outage.
SEVERITY_RANK: Final[Mapping[str, int]] = {
    "operational": 0,
    "under_maintenance": 1,
    "degraded_performance": 2,
    "partial_outage": 3,
    "major_outage": 4,
}
STATUS_LABELS: Final[Mapping[str, str]] = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}
# Statuspage's page indicator for a component status.
INDICATOR_OF: Final[Mapping[str, str]] = {
    "operational": "none",
    "under_maintenance": "maintenance",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
INDICATOR_RANK: Final[Mapping[str, int]] = {
    "none": 0,
    "maintenance": 1,
    "minor": 2,
    "major": 3,
    "critical": 4,
}
INDICATOR_DESCRIPTIONS: Final[Mapping[str, str]] = {
    "none": "All Systems Operational",
    "maintenance": "Service Under Maintenance",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}
# A public incident's impact from the worst component status it declares.
IMPACT_OF: Final[Mapping[str, str]] = {
    "operational": "none",
    "under_maintenance": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
IMPACTS: Final[tuple[str, ...]] = ("none", "minor", "major", "critical")


@dataclass(frozen=True, slots=True)
class Component:
    """A component from opsbook.yaml, with the stable id the JSON and badges use."""

    id: str
    name: str
    description: str
    group: str | None
    group_id: str | None
    position: int
    checks: tuple[str, ...]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "component"


def catalogue(config: OpsbookConfig) -> list[Component]:
    """The configured components in file order, with ids unique among components and groups."""
    taken: set[str] = set()

    def unique(base: str) -> str:
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate)
        return candidate

    group_ids: dict[str, str] = {}
    for component in config.components:
        if component.group and component.group not in group_ids:
            group_ids[component.group] = unique("group-" + slug(component.group))
    checks: dict[str, list[str]] = {}
    for check in config.checks:
        if check.component:
            checks.setdefault(check.component, []).append(check.name)
    return [
        Component(
            id=unique(slug(c.name)),
            name=c.name,
            description=c.description,
            group=c.group,
            group_id=group_ids.get(c.group) if c.group else None,
            position=position,
            checks=tuple(checks.get(c.name, ())),
        )
        for position, c in enumerate(config.components, start=1)
    ]


def resolve_component(components: Sequence[Component], ref: str) -> Component:
    """A component by id or by name (case-insensitive); ValueError names the known ones."""
    wanted = ref.strip().casefold()
    for component in components:
        if component.id == wanted or component.name.casefold() == wanted:
            return component
    known = ", ".join(c.id for c in components) or "none are configured"
    raise ValueError(f"no component {ref!r} (components: {known})")


def worst(statuses: Iterable[str]) -> ComponentStatus:
    found = max(statuses, key=lambda s: SEVERITY_RANK[s], default="operational")
    assert found in COMPONENT_STATUSES
    return found


def from_checks(check_statuses: Sequence[str]) -> ComponentStatus | None:
    """All of a component's checks down: major outage; some: partial; unknown says nothing."""
    known = [s for s in check_statuses if s in ("up", "down")]
    down = sum(1 for s in known if s == "down")
    if not known or down == 0:
        return "operational" if known else None
    return "major_outage" if down == len(known) else "partial_outage"


@dataclass(frozen=True, slots=True)
class Inputs:
    """What one component's state is decided from (see the module docstring)."""

    override: str | None = None
    public_incident: Sequence[str] = ()
    maintenance: bool = False
    checks: Sequence[str] = ()
    internal_incidents: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    status: ComponentStatus
    source: str


def decide(inputs: Inputs) -> Decision:
    """Apply :data:`PRECEDENCE` to one component's inputs."""
    if inputs.override is not None:
        return Decision(worst([inputs.override]), "override")
    if inputs.public_incident:
        return Decision(worst(inputs.public_incident), "public_incident")
    if inputs.maintenance:
        return Decision("under_maintenance", "maintenance")
    derived: list[str] = [s for s in (from_checks(inputs.checks),) if s is not None]
    derived += list(inputs.internal_incidents)
    if derived:
        return Decision(worst(derived), "derived")
    return Decision("operational", "default")


def indicator(statuses: Iterable[str], impacts: Iterable[str] = ()) -> str:
    """Statuspage's ``status.indicator`` from component statuses and unresolved impacts."""
    candidates = [INDICATOR_OF[s] for s in statuses] + [i for i in impacts if i != "none"]
    return max(candidates, key=lambda i: INDICATOR_RANK[i], default="none")
