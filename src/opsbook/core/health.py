"""Opsbook's own health, in the JSON shape the runbooks expect of any app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from opsbook import __version__
from opsbook.core.db import Database
from opsbook.core.models import Job, Notification
from opsbook.core.outbox import backlog
from opsbook.core.worker import live_workers


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    body: dict[str, Any]


def liveness(*, now: datetime) -> dict[str, Any]:
    return {
        "status": "ok",
        "timestamp": now.isoformat(),
        "version": __version__,
        "services": {"process": "ok"},
    }


def readiness(db: Database, *, now: datetime, stale_after: timedelta) -> Readiness:
    """Ready when the database answers and some worker's heartbeat is fresh."""
    services: dict[str, str] = {}
    details: dict[str, Any] = {}
    try:
        with db.read_session() as session:
            session.execute(text("SELECT 1"))
            details["outbox_backlog"] = backlog(session)
            details["jobs_due"] = int(
                session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.status == "pending", Job.run_at <= now)
                )
                or 0
            )
            details["dead_jobs"] = _count(session, Job, "dead")
            details["dead_notifications"] = _count(session, Notification, "dead")
        services["database"] = "ok"
    except Exception as exc:
        services["database"] = "down"
        details["database_error"] = type(exc).__name__
    if services["database"] == "ok":
        workers = live_workers(db, now=now, stale_after=stale_after)
        services["worker"] = "ok" if workers else "stale"
        details["workers"] = len(workers)
    else:
        services["worker"] = "unknown"
    ready = all(state == "ok" for state in services.values())
    return Readiness(
        ready=ready,
        body={
            "status": "ok" if ready else "unavailable",
            "timestamp": now.isoformat(),
            "version": __version__,
            "services": services,
            "details": details,
        },
    )


def _count(session: Any, model: Any, status: str) -> int:
    return int(
        session.scalar(select(func.count()).select_from(model).where(model.status == status)) or 0
    )
