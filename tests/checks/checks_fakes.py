"""Fake checks and result builders for the scheduler and storage tests.

The scheduler and storage are built against the ``RunnableCheck`` protocol alone, so
these fakes stand in for compiled probe checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete

from opsbook.checks.models import (
    CheckLease,
    CheckResultRecord,
    CheckRollup,
    CheckScheduler,
    CheckStateRecord,
    CheckTransitionRecord,
    HeartbeatRecord,
)
from opsbook.checks.result import CheckResult, CheckStatus, Reason
from opsbook.core.db import Database


@dataclass
class ScriptedCheck:
    """A check whose runs succeed or fail as scripted (then keep the last outcome)."""

    name: str
    every: timedelta = timedelta(seconds=60)
    timeout: timedelta = timedelta(seconds=5)
    fail_after: int = 1
    recover_after: int = 1
    kind: str = "fake"
    outcomes: list[bool] = field(default_factory=lambda: [True])
    duration: float = 0.05
    hang: bool = False
    runs: list[datetime] = field(default_factory=list)

    async def run(self, *, started_at: datetime) -> CheckResult:
        self.runs.append(started_at)
        if self.hang:
            await asyncio.sleep(3600)
        ok = self.outcomes[min(len(self.runs) - 1, len(self.outcomes) - 1)]
        return result(self.name, started_at, ok=ok, duration=self.duration, kind=self.kind)


def result(
    check: str,
    at: datetime,
    *,
    ok: bool = True,
    status: CheckStatus | None = None,
    duration: float = 0.05,
    kind: str = "fake",
) -> CheckResult:
    status = status or ("up" if ok else "down")
    return CheckResult(
        check=check,
        kind=kind,
        started_at=at,
        ok=ok and status != "unknown",
        status=status,
        reason=None if ok and status == "up" else Reason("status", "expected 200, got 503"),
        timings={"total": duration},
        observed={"status": 200 if ok else 503},
    )


def clear_check_tables(db: Database) -> None:
    """Empty the checks tables (hypothesis runs many examples on one ``db``)."""
    with db.session() as session, session.begin():
        for model in (
            CheckResultRecord,
            CheckRollup,
            CheckStateRecord,
            CheckTransitionRecord,
            HeartbeatRecord,
            CheckLease,
            CheckScheduler,
        ):
            session.execute(delete(model))


def names(checks: Sequence[ScriptedCheck]) -> list[str]:
    return [check.name for check in checks]
