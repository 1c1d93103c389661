"""Re-routing open alerts when the routing tree changes (a config reload, a restart).

Alertmanager rebuilds its dispatcher on a reload and routes every alert it holds again,
so a new route, a changed ``group_by`` or a removed one takes effect for alerts that are
already firing.  Here the job ``alerts.reroute`` (scheduled by a reload and when a
worker starts) does the same with the stored memberships:

- an open alert joins each notify group the current tree puts it in and it is not in
  yet, as a new alert would (the group waits ``group_wait``, or flushes on its next
  beat);
- its memberships of groups the tree no longer puts it in are dropped without a
  notification, as Alertmanager drops an old aggregation group (nothing is announced
  as resolved: the alert did not resolve).  Emptied groups go with the hourly prune.

Incident routes are not revisited: an alert's incident stays what it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from opsbook.alerts.contract import AlertInput
from opsbook.alerts.ingest import Sql, join_groups, json_value
from opsbook.alerts.labels import labels_json
from opsbook.alerts.routing import RoutingTree
from opsbook.core.jobs import schedule

REROUTE_JOB = "alerts.reroute"
CHUNK = 1000


def schedule_reroute(session: Session, *, now: datetime) -> None:
    """Book a re-routing of every open alert, now (each call books its own run)."""
    schedule(session, kind=REROUTE_JOB, key=f"{REROUTE_JOB}:{now.isoformat()}", run_at=now, now=now)


def reroute(session: Session, *, tree: RoutingTree, now: datetime) -> tuple[int, int]:
    """Bring every open alert's notify memberships in line with ``tree``; returns how
    many memberships were added and how many dropped."""
    sql = Sql(session)
    added = dropped = 0
    for chunk in _open_alerts(sql, now):
        ids = [alert_id for alert_id, _, _ in chunk]
        current: dict[int, dict[str, int]] = {alert_id: {} for alert_id in ids}
        for alert_id, key_hash, group_id in sql.rows(
            "SELECT m.alert_id, g.key_hash, g.id FROM alert_group_members m "
            "JOIN alert_groups g ON g.id = m.group_id "
            f"WHERE m.alert_id IN ({sql.marks(len(ids))}) AND m.state IN ('new', 'notified')",
            ids,
        ):
            current[int(alert_id)][key_hash] = int(group_id)
        joining: list[tuple[int, AlertInput, str]] = []
        stale: list[tuple[int, int]] = []
        for alert_id, labels, starts_at in chunk:
            wanted = {ref.key_hash for ref in tree.route(labels).groups if ref.kind == "notify"}
            have = current[alert_id]
            if wanted - set(have):
                alert = AlertInput(labels=labels, starts_at=starts_at, source="reroute")
                joining.append((alert_id, alert, labels_json(labels)))
            stale += [(alert_id, group_id) for h, group_id in have.items() if h not in wanted]
        if joining:
            added += join_groups(sql, tree, joining, now, incidents=False)
        for alert_id, group_id in stale:
            dropped += sql.run(
                "DELETE FROM alert_group_members "
                f"WHERE alert_id = {sql.ph} AND group_id = {sql.ph}",
                (alert_id, group_id),
            )
    return added, dropped


def _open_alerts(sql: Sql, now: datetime) -> Iterator[list[tuple[int, dict[str, str], datetime]]]:
    after = 0
    while True:
        rows = sql.rows(
            "SELECT id, labels, starts_at FROM alerts WHERE resolved_at IS NULL "
            f"AND (ends_at IS NULL OR ends_at > {sql.ph}) AND id > {sql.ph} "
            f"ORDER BY id LIMIT {CHUNK}",
            (sql.time(now), after),
        )
        if not rows:
            return
        yield [
            (int(alert_id), json_value(labels), sql.read_time(starts_at) or now)
            for alert_id, labels, starts_at in rows
        ]
        after = int(rows[-1][0])
