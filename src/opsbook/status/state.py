"""What the public page shows, read from the database in one pass: a :class:`PageState`.

The snapshot builder reads a ``PageState`` and renders every public document from it,
so the HTML page, the Statuspage JSON, the feeds and the badges always agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks.models import CheckRollup, CheckStateRecord
from opsbook.checks.rollups import floor_day
from opsbook.config import OpsbookConfig
from opsbook.incidents.models import Incident
from opsbook.incidents.state import OPEN_STATUSES
from opsbook.status import service
from opsbook.status.components import (
    Component,
    Inputs,
    catalogue,
    decide,
    indicator,
    resolve_component,
)
from opsbook.status.config import StatusPageConfig
from opsbook.status.models import StatusIncidentUpdate

UPTIME_DAYS = 90
MAX_HISTORY = 500  # published incidents kept in the snapshot's history pages


@dataclass(frozen=True, slots=True)
class ComponentState:
    component: Component
    status: str
    source: str


@dataclass(frozen=True, slots=True)
class Day:
    """One day of a component's uptime bar (UTC days, from the checks' day rollups)."""

    day: date
    down_minutes: int
    observed_minutes: int
    incidents: tuple[str, ...]
    worst_impact: str

    @property
    def uptime(self) -> float | None:
        if self.observed_minutes == 0:
            return None
        return 1 - self.down_minutes / self.observed_minutes


@dataclass(frozen=True, slots=True)
class UpdateView:
    code: str
    status: str
    body: str
    created_at: datetime
    component_statuses: dict[str, str]


@dataclass(frozen=True, slots=True)
class IncidentView:
    code: str
    name: str
    status: str
    impact: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    components: tuple[str, ...]
    updates: tuple[UpdateView, ...]  # newest first

    @property
    def is_open(self) -> bool:
        return self.status in service.OPEN_PUBLIC


@dataclass(frozen=True, slots=True)
class MaintenanceView:
    code: str
    name: str
    status: str
    impact: str
    scheduled_for: datetime
    scheduled_until: datetime
    created_at: datetime
    updated_at: datetime
    components: tuple[str, ...]
    updates: tuple[UpdateView, ...]


@dataclass(frozen=True, slots=True)
class PageState:
    now: datetime
    config: OpsbookConfig
    page: StatusPageConfig
    name: str
    url: str
    components: tuple[ComponentState, ...]
    days: dict[str, tuple[Day, ...]]
    uptime: dict[str, float | None]
    incidents: tuple[IncidentView, ...]  # published, newest first
    maintenances: tuple[MaintenanceView, ...]  # newest start first
    indicator: str
    valid_until: datetime

    @property
    def unresolved(self) -> tuple[IncidentView, ...]:
        return tuple(i for i in self.incidents if i.is_open)

    @property
    def updated_at(self) -> datetime:
        stamps = [i.updated_at for i in self.incidents] + [m.updated_at for m in self.maintenances]
        return max(stamps, default=self.now)


def page_url(config: OpsbookConfig) -> str:
    page = config.status_page
    if page.url:
        return page.url.rstrip("/")
    base = config.settings.public_url or "http://127.0.0.1:8080"
    return base.rstrip("/") + "/status"


def read_state(session: Session, *, config: OpsbookConfig, now: datetime) -> PageState:
    """Everything the public documents show, as of ``now``."""
    page = config.status_page
    components = catalogue(config)
    incidents = _incidents(session)
    maintenances = _maintenances(session, now=now)
    states = _decide(
        session,
        config=config,
        components=components,
        incidents=incidents,
        now=now,
        maintenances=maintenances,
    )
    days, uptime = _uptime(session, components=components, incidents=incidents, now=now)
    impacts = [i.impact for i in incidents if i.is_open]
    return PageState(
        now=now,
        config=config,
        page=page,
        name=page.name or config.service.name,
        url=page_url(config),
        components=tuple(states),
        days=days,
        uptime=uptime,
        incidents=tuple(incidents),
        maintenances=tuple(maintenances),
        indicator=indicator([s.status for s in states], impacts),
        valid_until=_valid_until(session, maintenances, now=now, every=page.refresh_every),
    )


def _updates_view(rows: Sequence[object]) -> tuple[UpdateView, ...]:
    return tuple(
        UpdateView(
            code=r.code,  # type: ignore[attr-defined]
            status=r.status,  # type: ignore[attr-defined]
            body=r.body,  # type: ignore[attr-defined]
            created_at=r.created_at,  # type: ignore[attr-defined]
            component_statuses=dict(getattr(r, "component_statuses", {}) or {}),
        )
        for r in rows
    )


def _incidents(session: Session) -> list[IncidentView]:
    rows = service.public_incidents(session, published=True, limit=MAX_HISTORY)
    updates: defaultdict[int, list[StatusIncidentUpdate]] = defaultdict(list)
    if rows:
        found = session.scalars(
            select(StatusIncidentUpdate)
            .where(StatusIncidentUpdate.status_incident_id.in_([r.id for r in rows]))
            .order_by(StatusIncidentUpdate.id.desc())
        )
        for update in found:
            updates[update.status_incident_id].append(update)
    views = []
    for row in rows:
        assert row.published_at is not None
        views.append(
            IncidentView(
                code=row.code,
                name=row.name,
                status=row.status,
                impact=row.impact,
                created_at=row.created_at,
                updated_at=row.updated_at,
                published_at=row.published_at,
                monitoring_at=row.monitoring_at,
                resolved_at=row.resolved_at,
                components=tuple(row.components),
                updates=_updates_view(updates[row.id]),
            )
        )
    return views


def _maintenances(session: Session, *, now: datetime) -> list[MaintenanceView]:
    views = []
    for row in service.maintenances(session, limit=50):
        if row.cancelled and now >= row.scheduled_for:
            continue
        views.append(
            MaintenanceView(
                code=row.code,
                name=row.name,
                status=service.maintenance_status(row, now=now),
                impact=row.impact,
                scheduled_for=row.scheduled_for,
                scheduled_until=row.scheduled_until,
                created_at=row.created_at,
                updated_at=row.updated_at,
                components=tuple(row.components),
                updates=_updates_view(service.maintenance_updates(session, maintenance_id=row.id)),
            )
        )
    return views


def _decide(
    session: Session,
    *,
    config: OpsbookConfig,
    components: Sequence[Component],
    incidents: Sequence[IncidentView],
    maintenances: Sequence[MaintenanceView],
    now: datetime,
) -> list[ComponentState]:
    overrides = service.overrides(session, now=now)
    declared: defaultdict[str, list[str]] = defaultdict(list)
    for incident in incidents:
        if incident.is_open and incident.updates:
            for component_id, status in incident.updates[0].component_statuses.items():
                declared[component_id].append(status)
    in_maintenance = {c for m in maintenances if m.status == "in_progress" for c in m.components}
    check_names = [name for c in components for name in c.checks]
    check_status: dict[str, str] = {}
    if check_names:
        rows = session.execute(
            select(CheckStateRecord.check_name, CheckStateRecord.status).where(
                CheckStateRecord.check_name.in_(check_names)
            )
        )
        check_status = {name: status for name, status in rows}
    internal: defaultdict[str, list[str]] = defaultdict(list)
    impact = config.status_page.incident_impact
    for severity, names in session.execute(
        select(Incident.severity, Incident.components).where(
            Incident.status.in_(sorted(OPEN_STATUSES))
        )
    ):
        for ref in names or ():
            try:
                component = resolve_component(components, ref)
            except ValueError:
                continue
            internal[component.id].append(impact[severity])  # type: ignore[index]
    out = []
    for component in components:
        override = overrides.get(component.id)
        decision = decide(
            Inputs(
                override=override.status if override else None,
                public_incident=declared.get(component.id, ()),
                maintenance=component.id in in_maintenance,
                checks=[check_status.get(name, "unknown") for name in component.checks],
                internal_incidents=internal.get(component.id, ()),
            )
        )
        out.append(ComponentState(component, decision.status, decision.source))
    return out


def _uptime(
    session: Session,
    *,
    components: Sequence[Component],
    incidents: Sequence[IncidentView],
    now: datetime,
) -> tuple[dict[str, tuple[Day, ...]], dict[str, float | None]]:
    """Per component and UTC day: its checks' down and observed minutes, summed.

    Read from the checks' day rollups, which count minutes exactly as
    :func:`opsbook.checks.rollups.compute_uptime` does for whole days.
    """
    today = floor_day(now)
    first = today - timedelta(days=UPTIME_DAYS - 1)
    names = sorted({name for c in components for name in c.checks})
    minutes: dict[tuple[str, date], tuple[int, int]] = {}
    if names:
        rows = session.execute(
            select(
                CheckRollup.check_name,
                CheckRollup.bucket_start,
                CheckRollup.down_minutes,
                CheckRollup.observed_minutes,
            ).where(
                CheckRollup.resolution == "day",
                CheckRollup.check_name.in_(names),
                CheckRollup.bucket_start >= first,
            )
        )
        for name, bucket, down, observed in rows:
            key = (name, bucket.astimezone(UTC).date())
            minutes[key] = (int(down), int(observed))
    per_day: defaultdict[tuple[str, date], list[tuple[str, str]]] = defaultdict(list)
    for incident in incidents:
        first_day = incident.published_at.date()
        last_day = (incident.resolved_at or now).date()
        for component_id in incident.components:
            cursor = first_day
            while cursor <= last_day:
                per_day[(component_id, cursor)].append((incident.name, incident.impact))
                cursor += timedelta(days=1)
    days: dict[str, tuple[Day, ...]] = {}
    uptime: dict[str, float | None] = {}
    for component in components:
        bar = []
        total_down = total_observed = 0
        for offset in range(UPTIME_DAYS):
            day_date = (first + timedelta(days=offset)).date()
            down = sum(minutes.get((name, day_date), (0, 0))[0] for name in component.checks)
            observed = sum(minutes.get((name, day_date), (0, 0))[1] for name in component.checks)
            total_down, total_observed = total_down + down, total_observed + observed
            found = per_day.get((component.id, day_date), [])
            impacts = [impact for _, impact in found]
            worst_impact = max(
                impacts, key=["none", "minor", "major", "critical"].index, default="none"
            )
            bar.append(Day(day_date, down, observed, tuple(n for n, _ in found), worst_impact))
        days[component.id] = tuple(bar)
        uptime[component.id] = 1 - total_down / total_observed if total_observed else None
    return days, uptime


def _valid_until(
    session: Session, maintenances: Sequence[MaintenanceView], *, now: datetime, every: timedelta
) -> datetime:
    """When this state goes stale on its own: a maintenance starts or ends, an override
    expires, or the periodic refresh (today's uptime moves on) is due."""
    candidates = [now + every]
    for m in maintenances:
        candidates += [t for t in (m.scheduled_for, m.scheduled_until) if t > now]
    candidates += [
        o.expires_at for o in service.overrides(session, now=now).values() if o.expires_at
    ]
    return min(candidates)
