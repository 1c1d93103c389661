"""Self-awareness: when Opsbook's own connectivity canary fails, failures mean nothing.

If the configured canary check's latest result failed, the other checks' failed results
of the same batch are recorded as ``unknown`` (reason ``canary``) instead of ``down``:
a network loss at Opsbook then moves checks to ``unknown`` and pages no one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbook.checks.models import CheckStateRecord
from opsbook.checks.result import CheckResult, Reason


def canary_failing(session: Session, *, canary: str, batch: Sequence[CheckResult]) -> bool:
    """The canary's latest result failed: in this batch, or else as last stored.

    The stored state matters when another scheduler owns the canary (leases).
    """
    own = [result for result in batch if result.check == canary]
    if own:
        return not max(own, key=lambda result: result.started_at).ok
    last_ok = session.scalar(
        select(CheckStateRecord.last_ok).where(CheckStateRecord.check_name == canary)
    )
    return last_ok is False


def mark_unknown(batch: Sequence[CheckResult], *, canary: str) -> list[CheckResult]:
    """The batch with every other check's failure turned into an ``unknown`` result."""
    return [
        _as_unknown(result, canary)
        if result.check != canary and not result.ok and result.status != "unknown"
        else result
        for result in batch
    ]


def _as_unknown(result: CheckResult, canary: str) -> CheckResult:
    original = f"{result.reason.code}: {result.reason.message}" if result.reason else "failed"
    message = f"canary check {canary!r} is failing too; result ignored ({original})"
    return replace(result, status="unknown", reason=Reason("canary", message))
