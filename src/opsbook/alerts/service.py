"""The operations of the alerts domain that API, CLI, web, jobs and other domains call.

Keyword-only functions; the session is passed in and the caller owns the transaction.

Every source hands alerts to :func:`receive` (the rules engine through the sink that
:func:`make_sink` returns, inside its own transaction).  Listings compute what
Alertmanager shows of an alert (fingerprint, receivers, silenced or inhibited) as they
read, so nothing of that is stored twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsbook.alerts import ingest
from opsbook.alerts.contract import AlertInput, AlertSink
from opsbook.alerts.ingest import ReceiveResult, Sql, json_value, schedule_incident_work
from opsbook.alerts.labels import fingerprint
from opsbook.alerts.matchers import Matcher, matches_all
from opsbook.alerts.models import Alert
from opsbook.alerts.muting import NOT_MUTED, MuteStatus, build_muter
from opsbook.alerts.routing import routing_tree
from opsbook.config.schema import OpsbookConfig

State = Literal["firing", "resolved", "all"]
STATES: tuple[State, ...] = ("firing", "resolved", "all")

__all__ = [
    "STATES",
    "AlertNotFound",
    "AlertView",
    "ReceiveResult",
    "acknowledge",
    "get_alert",
    "list_alerts",
    "make_sink",
    "receive",
]


class AlertNotFound(LookupError):
    pass


def receive(
    session: Session, *, config: OpsbookConfig, alerts: Sequence[AlertInput], now: datetime
) -> ReceiveResult:
    """Hand ``alerts`` to the pipeline in the caller's transaction.

    Deduplicates, records, and schedules the groups' flushes and the incidents' work
    (jobs that run once the transaction commits); no network I/O.

    >>> with db.session() as session, session.begin():
    ...     receive(session, config=config, now=clock.now(),
    ...             alerts=[AlertInput(labels={"alertname": "DiskFull"}, source="manual")])
    """
    return ingest.receive(session, tree=routing_tree(config.alerts), alerts=alerts, now=now)


def make_sink(config: Callable[[], OpsbookConfig]) -> AlertSink:
    """The :class:`~opsbook.alerts.contract.AlertSink` bound to the live config."""

    def sink(session: Session, *, alerts: Sequence[AlertInput], now: datetime) -> ReceiveResult:
        return receive(session, config=config(), alerts=alerts, now=now)

    return sink


def acknowledge(session: Session, *, config: OpsbookConfig, dedup_key: str, now: datetime) -> bool:
    """Acknowledge the open alert with ``dedup_key`` (PagerDuty's acknowledge event).

    Its incident is acknowledged by the incident job; returns False when no alert with
    that key is open (the event is dropped, as PagerDuty drops it).
    """
    sql = Sql(session)
    stamp = sql.time(now)
    rows = sql.rows(
        f"UPDATE alerts SET acknowledged_at = {sql.ph}, updated_at = {sql.ph} "  # noqa: S608
        f"WHERE dedup_key = {sql.ph} AND resolved_at IS NULL RETURNING id, labels",
        (stamp, stamp, dedup_key),
    )
    tree = routing_tree(config.alerts)
    for alert_id, labels in rows:
        if tree.route(json_value(labels)).opens_incidents:
            schedule_incident_work(session, alert_id=int(alert_id), event="acknowledged", now=now)
    return bool(rows)


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as it is shown: Alertmanager's fields and Opsbook's."""

    id: int
    fingerprint: str
    source: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    updated_at: datetime
    received_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    generator_url: str
    status: str  # firing | resolved
    mute: MuteStatus
    receivers: tuple[str, ...]
    refreshes: int
    incident_key: str | None
    extra: dict[str, Any] | None

    @property
    def state(self) -> str:
        """``active``, ``suppressed`` (silenced or inhibited) or ``resolved``."""
        return "resolved" if self.status == "resolved" else self.mute.state


def _view(alert: Alert, *, now: datetime, mute: MuteStatus, receivers: Sequence[str]) -> AlertView:
    firing = alert.resolved_at is None and (alert.ends_at is None or alert.ends_at > now)
    return AlertView(
        id=alert.id,
        fingerprint=fingerprint(alert.labels),
        source=alert.source,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations or {}),
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        updated_at=alert.updated_at,
        received_at=alert.received_at,
        resolved_at=alert.resolved_at,
        acknowledged_at=alert.acknowledged_at,
        generator_url=alert.generator_url or "",
        status="firing" if firing else "resolved",
        mute=mute if firing else NOT_MUTED,
        receivers=tuple(receivers),
        refreshes=alert.refreshes,
        incident_key=alert.incident_key,
        extra=alert.extra,
    )


def list_alerts(
    session: Session,
    *,
    config: OpsbookConfig,
    now: datetime,
    state: State = "firing",
    matchers: Sequence[Matcher] = (),
    limit: int | None = 500,
) -> list[AlertView]:
    """Alerts, newest first: firing ones (the default), resolved ones, or all."""
    stmt = select(Alert).order_by(Alert.id.desc())
    firing = (Alert.resolved_at.is_(None)) & or_(Alert.ends_at.is_(None), Alert.ends_at > now)
    if state == "firing":
        stmt = stmt.where(firing)
    elif state == "resolved":
        stmt = stmt.where(~firing)
    if limit is not None and not matchers:
        stmt = stmt.limit(limit)
    tree = routing_tree(config.alerts)
    muter = build_muter(session, config=config.alerts, now=now) if state != "resolved" else None
    views = []
    for alert in session.scalars(stmt):
        if matchers and not matches_all(matchers, alert.labels):
            continue
        mute = muter.status(alert.labels) if muter is not None else NOT_MUTED
        views.append(_view(alert, now=now, mute=mute, receivers=tree.receivers(alert.labels)))
        if limit is not None and len(views) >= limit:
            break
    return views


def get_alert(
    session: Session, *, config: OpsbookConfig, alert_id: int, now: datetime
) -> AlertView:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertNotFound(f"no alert with id {alert_id}")
    muter = build_muter(session, config=config.alerts, now=now)
    tree = routing_tree(config.alerts)
    return _view(
        alert, now=now, mute=muter.status(alert.labels), receivers=tree.receivers(alert.labels)
    )
