"""Opsbook's own metrics in the Prometheus text format, read from the database.

Reading them from the database (not process memory) means every web process serves
the same numbers however many workers there are, and a restart forgets nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from opsbook import __version__
from opsbook.core.db import Database
from opsbook.core.jobs import JOB_STATUSES
from opsbook.core.models import Job, Notification
from opsbook.core.outbox import NOTIFICATION_STATUSES
from opsbook.core.worker import live_workers

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def render(db: Database, *, now: datetime, stale_after: timedelta) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    metric("opsbook_build_info", "gauge", "Opsbook version.")
    lines.append(f'opsbook_build_info{{version="{__version__}"}} 1')
    with db.read_session() as session:
        jobs = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        due = session.scalar(
            select(func.count()).select_from(Job).where(Job.status == "pending", Job.run_at <= now)
        )
        notes = dict(
            session.execute(
                select(Notification.status, func.count()).group_by(Notification.status)
            ).all()
        )
        buckets = session.execute(
            select(
                *(
                    func.sum(case((Notification.latency_ms <= int(b * 1000), 1), else_=0))
                    for b in LATENCY_BUCKETS_S
                ),
                func.count(Notification.latency_ms),
                func.sum(Notification.latency_ms),
            ).where(Notification.latency_ms.is_not(None))
        ).one()

    metric("opsbook_jobs", "gauge", "Jobs by status.")
    for status in JOB_STATUSES:
        lines.append(f'opsbook_jobs{{status="{status}"}} {jobs.get(status, 0)}')
    metric("opsbook_job_queue_depth", "gauge", "Pending jobs whose time has come.")
    lines.append(f"opsbook_job_queue_depth {due or 0}")
    metric("opsbook_notifications", "gauge", "Outbox notifications by status.")
    for status in NOTIFICATION_STATUSES:
        lines.append(f'opsbook_notifications{{status="{status}"}} {notes.get(status, 0)}')
    metric("opsbook_outbox_backlog", "gauge", "Notifications accepted but not yet delivered.")
    lines.append(f"opsbook_outbox_backlog {notes.get('pending', 0) + notes.get('sending', 0)}")
    metric(
        "opsbook_notification_delivery_latency_seconds",
        "histogram",
        "Time from acceptance to delivery, over retained notifications.",
    )
    *counts, total, latency_sum = buckets
    for bound, count in zip(LATENCY_BUCKETS_S, counts, strict=True):
        lines.append(
            f'opsbook_notification_delivery_latency_seconds_bucket{{le="{bound}"}} {count or 0}'
        )
    lines.append(f'opsbook_notification_delivery_latency_seconds_bucket{{le="+Inf"}} {total or 0}')
    lines.append(f"opsbook_notification_delivery_latency_seconds_sum {(latency_sum or 0) / 1000}")
    lines.append(f"opsbook_notification_delivery_latency_seconds_count {total or 0}")
    metric("opsbook_workers_live", "gauge", "Workers with a fresh heartbeat.")
    lines.append(f"opsbook_workers_live {len(live_workers(db, now=now, stale_after=stale_after))}")
    return "\n".join(lines) + "\n"
