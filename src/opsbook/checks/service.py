"""Check results: record them, read them, prune them, and say what uptime they add up to.

Every function takes the session and runs in the caller's transaction::

    with db.session() as session, session.begin():
        transitions = record_results(session, results=batch, now=clock.now())
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from opsbook.checks.models import (
    CheckResultRecord,
    CheckRollup,
    CheckStateRecord,
    CheckTransitionRecord,
)
from opsbook.checks.result import CheckResult, CheckStatus, ConditionVerdict, Reason
from opsbook.checks.rollups import (
    Uptime,
    compute_uptime,
    floor_day,
    insert_for,
    merge_results,
    update_by_key,
)
from opsbook.checks.state import CheckState, Thresholds, Transition, advance

__all__ = [
    "DEFAULT_KEEP_RAW",
    "DEFAULT_KEEP_ROLLUPS",
    "OBSERVED_CAP_BYTES",
    "LatencyPoint",
    "Pruned",
    "StoredState",
    "Uptime",
    "latency_series",
    "list_states",
    "prune",
    "record_results",
    "results_since",
    "uptime",
]

DEFAULT_KEEP_RAW = timedelta(days=7)
DEFAULT_KEEP_ROLLUPS = timedelta(days=400)
# A probe may observe a whole response body; raw rows keep a bounded excerpt of it.
OBSERVED_CAP_BYTES = 4096
_STRING_CAP = 1024


@dataclass(frozen=True, slots=True)
class StoredState:
    """A check's current state and last result, as ``opsbook checks`` lists it."""

    check: str
    kind: str
    status: CheckStatus
    since: datetime
    consecutive_failures: int
    consecutive_successes: int
    last_run_at: datetime | None
    last_ok: bool | None
    last_reason: Reason | None
    last_duration_ms: float | None


@dataclass(frozen=True, slots=True)
class Pruned:
    results: int
    minute_rollups: int
    day_rollups: int
    transitions: int


def record_results(
    session: Session,
    *,
    results: Sequence[CheckResult],
    now: datetime,
    thresholds: Mapping[str, Thresholds] | None = None,
) -> list[Transition]:
    """Store a batch: raw rows, rollups, states and transitions, in one transaction.

    ``thresholds`` gives each check's ``fail_after``/``recover_after`` (1/1 if absent).
    Returns the transitions, which the caller announces once the transaction commits.
    """
    if not results:
        return []
    ordered = sorted(results, key=lambda r: (r.check, r.started_at))
    # Core statements: the ORM's bulk paths cost more than the database on this hot path.
    session.execute(_table(CheckResultRecord).insert(), [_raw_row(r) for r in ordered])
    merge_results(session, ordered)
    transitions = _advance_states(session, ordered, now=now, thresholds=thresholds or {})
    if transitions:
        session.execute(
            _table(CheckTransitionRecord).insert(),
            [
                {
                    "check_name": t.check,
                    "at": t.at,
                    "from_status": t.from_status,
                    "to_status": t.to_status,
                    "reason_code": t.reason.code if t.reason else None,
                    "reason_message": t.reason.message if t.reason else None,
                }
                for t in transitions
            ],
        )
    return transitions


def _advance_states(
    session: Session,
    results: Sequence[CheckResult],
    *,
    now: datetime,
    thresholds: Mapping[str, Thresholds],
) -> list[Transition]:
    kinds = {result.check: result.kind for result in results}
    new_states = [
        {"check_name": name, "kind": kind, "status": "unknown", "since": now}
        for name, kind in sorted(kinds.items())
    ]
    session.execute(
        insert_for(session)(_table(CheckStateRecord)).on_conflict_do_nothing(
            index_elements=["check_name"]
        ),
        new_states,
    )
    rows = session.scalars(
        select(CheckStateRecord)
        .where(CheckStateRecord.check_name.in_(sorted(kinds)))
        .order_by(CheckStateRecord.check_name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    current = {row.check_name: row for row in rows}
    transitions: list[Transition] = []
    updates: list[dict[str, Any]] = []
    for name, kind in kinds.items():
        row = current[name]
        state = CheckState(
            cast(CheckStatus, row.status),
            row.consecutive_failures,
            row.consecutive_successes,
            row.since,
        )
        last_run_at, last = row.last_run_at, None
        for result in (r for r in results if r.check == name):
            # A late result still counts in the rollups, but must not rewind the state.
            if last_run_at is not None and result.started_at < last_run_at:
                continue
            state, transition = advance(state, result, thresholds.get(name, Thresholds()))
            if transition is not None:
                transitions.append(transition)
            last_run_at, last = result.started_at, result
        if last is None:
            continue
        updates.append(
            {
                "key_check_name": name,
                "kind": kind,
                "status": state.status,
                "consecutive_failures": state.consecutive_failures,
                "consecutive_successes": state.consecutive_successes,
                "since": state.since or row.since,
                "last_run_at": last.started_at,
                "last_ok": last.ok,
                "last_status": last.status,
                "last_reason_code": last.reason.code if last.reason else None,
                "last_reason_message": last.reason.message if last.reason else None,
                "last_duration_ms": last.duration * 1000,
            }
        )
    if updates:
        session.execute(update_by_key(CheckStateRecord.__table__, ("check_name",)), updates)
    transitions.sort(key=lambda t: (t.at, t.check))
    return transitions


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _raw_row(result: CheckResult) -> dict[str, Any]:
    return {
        "check_name": result.check,
        "kind": result.kind,
        "started_at": result.started_at,
        "ok": result.ok,
        "status": result.status,
        "reason_code": result.reason.code if result.reason else None,
        "reason_message": result.reason.message if result.reason else None,
        "duration_ms": result.duration * 1000,
        "timings": {str(phase): float(seconds) for phase, seconds in result.timings.items()},
        "observed": trim_observed(result.observed),
        "verdicts": _jsonable(
            [
                {
                    "expression": v.expression,
                    "ok": v.ok,
                    "observed": v.observed,
                    "message": v.message,
                }
                for v in result.verdicts
            ]
        ),
    }


def _jsonable(value: Any) -> Any:
    # Probes may observe datetimes, bytes or decimals; JSON columns want plain values.
    return json.loads(json.dumps(value, default=str))


def trim_observed(observed: Mapping[str, Any]) -> dict[str, Any]:
    """``observed`` as plain JSON of at most about OBSERVED_CAP_BYTES: long strings cut first."""
    plain = _jsonable(dict(observed))
    cut = _cut_strings(plain)
    text = json.dumps(cut)
    if len(text) <= OBSERVED_CAP_BYTES:
        return cast(dict[str, Any], cut)
    return {"truncated": True, "excerpt": text[:OBSERVED_CAP_BYTES]}


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _STRING_CAP:
        return value[:_STRING_CAP] + f"... [{len(value) - _STRING_CAP} more characters]"
    if isinstance(value, dict):
        return {k: _cut_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_strings(v) for v in value]
    return value


def uptime(session: Session, *, check: str, start: datetime, end: datetime) -> Uptime:
    """Uptime over any window, from the rollups (so raw retention does not matter).

    >>> uptime(session, check="api", start=now - timedelta(days=30), end=now).ratio
    0.9993
    """
    if end <= start:
        raise ValueError(f"uptime window ends ({end}) before it starts ({start})")
    return compute_uptime(session, check=check, start=start, end=end)


def results_since(
    session: Session, *, check: str, since: datetime, limit: int = 500
) -> list[CheckResult]:
    """Raw results of ``check`` started at or after ``since``, oldest first."""
    rows = session.scalars(
        select(CheckResultRecord)
        .where(CheckResultRecord.check_name == check, CheckResultRecord.started_at >= since)
        .order_by(CheckResultRecord.started_at, CheckResultRecord.id)
        .limit(limit)
    )
    return [
        CheckResult(
            check=row.check_name,
            kind=row.kind,
            started_at=row.started_at,
            ok=row.ok,
            status=cast(CheckStatus, row.status),
            reason=Reason(row.reason_code, row.reason_message or "") if row.reason_code else None,
            timings=row.timings,
            observed=row.observed,
            verdicts=tuple(
                ConditionVerdict(v["expression"], v["ok"], v["observed"], v["message"])
                for v in row.verdicts
            ),
        )
        for row in rows
    ]


def list_states(session: Session) -> list[StoredState]:
    rows = session.scalars(select(CheckStateRecord).order_by(CheckStateRecord.check_name))
    return [
        StoredState(
            check=row.check_name,
            kind=row.kind,
            status=cast(CheckStatus, row.status),
            since=row.since,
            consecutive_failures=row.consecutive_failures,
            consecutive_successes=row.consecutive_successes,
            last_run_at=row.last_run_at,
            last_ok=row.last_ok,
            last_reason=(
                Reason(row.last_reason_code, row.last_reason_message or "")
                if row.last_reason_code
                else None
            ),
            last_duration_ms=row.last_duration_ms,
        )
        for row in rows
    ]


def prune(
    session: Session,
    *,
    now: datetime,
    keep_raw: timedelta = DEFAULT_KEEP_RAW,
    keep_rollups: timedelta = DEFAULT_KEEP_ROLLUPS,
    keep_minute_rollups: timedelta | None = None,
) -> Pruned:
    """Drop raw results older than ``keep_raw`` and rollups older than ``keep_rollups``.

    ``keep_minute_rollups`` (default: ``keep_rollups``) may keep minute rows for less
    time than day rows; they are dropped in whole UTC days, which is what lets uptime
    tell a pruned day from a quiet one.  Deletes go check by check, along the
    ``(check, time)`` indexes, so no table is scanned.
    """
    raw_cutoff = now - keep_raw
    day_cutoff = floor_day(now - keep_rollups)
    minute_cutoff = floor_day(now - (keep_minute_rollups or keep_rollups))
    counts = [0, 0, 0, 0]
    names = session.scalars(select(CheckStateRecord.check_name)).all()
    for name in names:
        statements = (
            delete(CheckResultRecord).where(
                CheckResultRecord.check_name == name, CheckResultRecord.started_at < raw_cutoff
            ),
            _delete_rollups(name, "minute", minute_cutoff),
            _delete_rollups(name, "day", day_cutoff),
            delete(CheckTransitionRecord).where(
                CheckTransitionRecord.check_name == name, CheckTransitionRecord.at < day_cutoff
            ),
        )
        for index, statement in enumerate(statements):
            result = session.execute(statement.execution_options(synchronize_session=False))
            counts[index] += int(result.rowcount)  # type: ignore[attr-defined]
    return Pruned(*counts)


def _delete_rollups(name: str, resolution: str, cutoff: datetime) -> Any:
    return delete(CheckRollup).where(
        CheckRollup.check_name == name,
        CheckRollup.resolution == resolution,
        CheckRollup.bucket_start < cutoff,
    )


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    """Latency percentiles of one time bucket, merged from minute rollups."""

    start: datetime
    count: int
    failures: int
    p50_ms: float | None
    p95_ms: float | None


def latency_series(
    session: Session, *, check: str, start: datetime, end: datetime, bucket: timedelta
) -> list[LatencyPoint]:
    """Per ``bucket`` from ``start`` to ``end``: p50/p95 from the merged minute histograms.

    Percentiles of a bucket come from adding the minutes' histograms (never averaging
    percentiles), so they keep the rollups' 5% error bound.  Empty buckets have None.
    """
    from opsbook.checks import latency
    from opsbook.checks.rollups import floor_minute

    first = floor_minute(start)
    rows = session.execute(
        select(
            CheckRollup.bucket_start,
            CheckRollup.count,
            CheckRollup.failures,
            CheckRollup.latency_hist,
        ).where(
            CheckRollup.check_name == check,
            CheckRollup.resolution == "minute",
            CheckRollup.bucket_start >= first,
            CheckRollup.bucket_start < end,
        )
    )
    buckets = max(1, int((end - first) / bucket) + (1 if (end - first) % bucket else 0))
    hists: list[dict[str, int]] = [{} for _ in range(buckets)]
    counts = [[0, 0] for _ in range(buckets)]
    for bucket_start, count, failures, hist in rows:
        index = min(buckets - 1, int((bucket_start - first) / bucket))
        hists[index] = latency.merge(hists[index], hist or {})
        counts[index][0] += count
        counts[index][1] += failures
    return [
        LatencyPoint(
            start=first + index * bucket,
            count=counts[index][0],
            failures=counts[index][1],
            p50_ms=latency.percentile(hists[index], 50),
            p95_ms=latency.percentile(hists[index], 95),
        )
        for index in range(buckets)
    ]
