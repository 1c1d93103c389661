"""What the operator dashboard shows, gathered from the domains in one read.

Open incidents by severity, response-target breaches, failing checks with latency
sparklines, and what the status page is waiting for.  "Who is on call now" is a slot:
``oncall_now`` is None until the on-call domain fills it (see dashboard.html).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks import service as checks_service
from opsbook.checks.charts import recent_latency
from opsbook.config import OpsbookConfig
from opsbook.config.defaults import SEVERITIES
from opsbook.incidents.models import Incident
from opsbook.incidents.state import OPEN_STATUSES
from opsbook.status import service as status_service

# Domains that add a dashboard section register a callable here (on-call: who is on
# call now); each gets the session, config and time and returns its template context.
OncallNow = Callable[[Session, OpsbookConfig, datetime], Any]


@dataclass(frozen=True, slots=True)
class FailingCheck:
    name: str
    component: str | None
    since: datetime
    reason: str
    spark: str


@dataclass
class Dashboard:
    by_severity: dict[str, list[Incident]] = field(default_factory=dict)
    breaches: list[Incident] = field(default_factory=list)
    failing: list[FailingCheck] = field(default_factory=list)
    drafts: list[Any] = field(default_factory=list)
    awaiting: list[tuple[Any, int]] = field(default_factory=list)
    oncall_now: Any = None

    @property
    def open_count(self) -> int:
        return sum(len(found) for found in self.by_severity.values())


def gather(
    session: Session,
    *,
    config: OpsbookConfig,
    now: datetime,
    oncall_now: OncallNow | None = None,
) -> Dashboard:
    incidents = list(
        session.scalars(
            select(Incident)
            .where(Incident.status.in_(sorted(OPEN_STATUSES)))
            .order_by(Incident.triggered_at)
        )
    )
    board = Dashboard(
        by_severity={s: [i for i in incidents if i.severity == s] for s in SEVERITIES}
    )
    board.breaches = sorted(
        (i for i in incidents if i.breached_at is not None), key=lambda i: i.breached_at or now
    )
    components = {c.name: c.component for c in config.checks}
    for state in checks_service.list_states(session):
        if state.status != "down" or state.check not in components:
            continue
        board.failing.append(
            FailingCheck(
                name=state.check,
                component=components[state.check],
                since=state.since,
                reason=state.last_reason.message if state.last_reason else "",
                spark=recent_latency(session, check=state.check, now=now),
            )
        )
    board.drafts = status_service.public_incidents(session, published=False)
    board.awaiting = status_service.awaiting_resolution(session)
    if oncall_now is not None:
        board.oncall_now = oncall_now(session, config, now)
    return board
