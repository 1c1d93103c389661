"""Helpers the status tests share."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from opsbook.checks.result import CheckResult, Reason
from opsbook.checks.service import record_results
from opsbook.runtime import Runtime
from opsbook.status.snapshot import Snapshot, SnapshotKeeper


def document(keeper: SnapshotKeeper, path: str) -> Any:
    snapshot = keeper.refresh(force=True)
    assert snapshot is not None
    found = snapshot.find(*path.partition("?")[::2])
    assert found is not None, f"no document at {path}"
    if found.content_type.startswith("application/json"):
        return json.loads(found.body)
    return found.body.decode()


def fresh(keeper: SnapshotKeeper) -> Snapshot:
    snapshot = keeper.refresh(force=True)
    assert snapshot is not None
    return snapshot


def component_statuses(keeper: SnapshotKeeper) -> dict[str, str]:
    summary = document(keeper, "/api/v2/summary.json")
    return {c["id"]: c["status"] for c in summary["components"] if not c["group"]}


def record(runtime: Runtime, check: str, *, ok: bool, at: datetime, seconds: float = 0.05) -> None:
    result = CheckResult(
        check=check,
        kind="http",
        started_at=at,
        ok=ok,
        status="up" if ok else "down",
        reason=None if ok else Reason("http_status", "expected 2xx, got 503"),
        timings={"total": seconds},
    )
    with runtime.db.session() as session, session.begin():
        record_results(session, results=[result], now=at)
