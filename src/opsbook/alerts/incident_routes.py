"""Routes that open, update and resolve incidents (the ``incident:`` of a route).

The job ``alerts.incident`` runs this for one alert and one event, after the commit
that recorded the alert, through the interface in docs/incidents.md:

- ``firing`` (and ``unmuted``, when a silence or inhibition ends): unless the alert is
  muted, it joins the open incident of its incident group (the route and the values of
  its ``group_by`` labels) if one was opened within ``group_window``, else a new incident
  opens at the severity its severity label maps to (which pages per the severity
  policy).  A later alert of a higher severity raises the incident's severity.
- ``resolved``: when the last firing alert linked to the incident resolves, the
  incident resolves (``resolve: true``, the default).
- ``acknowledged`` (PagerDuty's acknowledge): the incident is acknowledged.

The incident group's row is locked first, so two workers handling alerts of one group
(two Opsbook processes that both received them) open one incident, never two.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.alerts.ingest import Sql, group_ids
from opsbook.alerts.labels import fingerprint, label_key
from opsbook.alerts.models import Alert, AlertGroup
from opsbook.alerts.muting import build_muter
from opsbook.alerts.routing import GroupRef, routing_tree
from opsbook.config.defaults import SEVERITIES
from opsbook.config.schema import OpsbookConfig

log = structlog.get_logger(__name__)
ACTOR = "alerts"
MAX_KEY = 255


@dataclass(frozen=True, slots=True)
class IncidentOutcome:
    alert_id: int
    event: str
    incident_ids: tuple[int, ...]
    action: str


def incident_key(alert: Alert) -> str:
    """How incidents name the alert: its Alertmanager fingerprint, or the source's key."""
    if alert.dedup_key == label_key(alert.labels):
        return fingerprint(alert.labels)
    key = alert.dedup_key.split(":", 2)[-1] if alert.source == "pagerduty" else alert.dedup_key
    if len(key) > MAX_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def handle(
    session: Session, *, config: OpsbookConfig, alert_id: int, event: str, now: datetime
) -> IncidentOutcome:
    alert = session.get(Alert, alert_id)
    if alert is None:
        return IncidentOutcome(alert_id, event, (), "the alert is gone")
    routing = routing_tree(config.alerts).route(alert.labels)
    refs = [ref for ref in routing.groups if ref.kind == "incident"]
    if not refs:
        return IncidentOutcome(alert_id, event, (), "no route opens incidents for it")
    key = alert.incident_key or incident_key(alert)
    alert.incident_key = key
    if event == "firing" or event.startswith("unmuted"):
        return _fire(session, config, alert, key, refs, event, now)
    incident = incidents.incident_for_alert(session, key=key)
    if incident is None:
        return IncidentOutcome(alert_id, event, (), "no open incident")
    if event == "acknowledged":
        incidents.acknowledge(
            session, incident_id=incident.id, by=f"{ACTOR}:{alert.source}", now=now
        )
        return IncidentOutcome(alert_id, event, (incident.id,), "acknowledged")
    if not any(ref.route.incident is not None and ref.route.incident.resolve for ref in refs):
        return IncidentOutcome(alert_id, event, (incident.id,), "its route does not resolve")
    linked = [link.alert_key for link in incidents.alerts(session, incident_id=incident.id)]
    still_firing = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.incident_key.in_(linked), Alert.resolved_at.is_(None))
    )
    if still_firing:
        return IncidentOutcome(alert_id, event, (incident.id,), f"{still_firing} still firing")
    incidents.resolve(
        session,
        incident_id=incident.id,
        by=ACTOR,
        now=now,
        reason="every alert of the incident resolved",
    )
    return IncidentOutcome(alert_id, event, (incident.id,), "resolved")


def _components(config: OpsbookConfig, labels: dict[str, str]) -> list[str]:
    """The configured component an alert's ``component`` label names (any case), if any."""
    wanted = labels.get("component", "").casefold()
    return [c.name for c in config.components if wanted and c.name.casefold() == wanted]


def _severity(ref: GroupRef, labels: dict[str, str]) -> str:
    policy = ref.route.incident
    assert policy is not None
    value = labels.get(policy.severity_label, "")
    if value in policy.severity_map:
        return policy.severity_map[value]
    # A rule's `severity: P1` (or a sender that speaks Opsbook's levels) means itself.
    return value.upper() if value.upper() in SEVERITIES else policy.severity


def _fire(
    session: Session,
    config: OpsbookConfig,
    alert: Alert,
    key: str,
    refs: list[GroupRef],
    event: str,
    now: datetime,
) -> IncidentOutcome:
    if alert.resolved_at is not None or (alert.ends_at is not None and alert.ends_at <= now):
        return IncidentOutcome(alert.id, event, (), "resolved before it was handled")
    status = build_muter(session, config=config.alerts, now=now).status(alert.labels)
    if status.muted:
        why = "silenced" if status.silenced_by else "inhibited"
        return IncidentOutcome(alert.id, event, (), f"{why}; handled again when unmuted")
    sql = Sql(session)
    ids = group_ids(sql, refs, now)
    touched = []
    for ref in sorted(refs, key=lambda r: ids[r.key_hash]):
        group = session.get(AlertGroup, ids[ref.key_hash], with_for_update={"key_share": True})
        assert group is not None
        assert ref.route.incident is not None
        policy = ref.route.incident
        severity = _severity(ref, alert.labels)
        incident = None
        if group.incident_id is not None:
            incident = session.get(incidents.Incident, group.incident_id)
            fresh = policy.group_window is None or (
                group.incident_opened_at is not None
                and now - group.incident_opened_at < policy.group_window
            )
            if incident is None or not incident.is_open or not fresh:
                incident = None
        incident = incident or incidents.incident_for_alert(session, key=key)
        if incident is None:
            context = {"labels": alert.labels, "annotations": alert.annotations}
            title = policy.title.render(context) or alert.labels.get("alertname") or "Alert"
            summary = alert.annotations.get("description") or alert.annotations.get("summary", "")
            incident = incidents.open_incident(
                session,
                config=config,
                title=title[:300],
                severity=severity,
                by=ACTOR,
                now=now,
                service=policy.service or alert.labels.get("service") or None,
                summary=summary,
                source=alert.source,
                components=_components(config, alert.labels),
            )
            group.incident_id = incident.id
            group.incident_opened_at = now
            action = "opened"
        else:
            if group.incident_id != incident.id:
                group.incident_id = incident.id
                group.incident_opened_at = incident.triggered_at
            if SEVERITIES.index(severity) < SEVERITIES.index(incident.severity):
                incidents.change_severity(
                    session,
                    config=config,
                    incident_id=incident.id,
                    severity=severity,
                    by=ACTOR,
                    now=now,
                    reason=f"alert {key} is {alert.labels.get(policy.severity_label, severity)}",
                )
            action = "attached"
            added = [c for c in _components(config, alert.labels) if c not in incident.components]
            if added and incident.status != "closed":
                incidents.set_impact(
                    session,
                    incident_id=incident.id,
                    by=ACTOR,
                    now=now,
                    components=[*incident.components, *added],
                )
        incidents.attach_alert(
            session, incident_id=incident.id, key=key, source=alert.source, now=now, by=ACTOR
        )
        touched.append(incident.id)
        log.info("alerts.incident", alert_id=alert.id, incident_id=incident.id, action=action)
    return IncidentOutcome(alert.id, event, tuple(dict.fromkeys(touched)), "handled")
