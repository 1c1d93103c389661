"""Minute and day rollups: merged as results arrive, and uptime counted from them.

Rollups are never recomputed from raw results: each batch adds its counts to the
rows of the minutes and days it touches (read, merge, write, under a row lock on
PostgreSQL), so pruning raw results changes no figure.

A minute is classified from the results in it, ignoring ``unknown`` ones (canary):
``down`` when any result failed, ``observed`` when it had any non-unknown result, and
``unknown`` when every result in it was unknown.  A day row counts its minutes in each
class, updated by the difference each batch makes to a minute's class, so a day row
answers exactly what its minute rows would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbook.checks import latency
from opsbook.checks.models import CheckRollup
from opsbook.checks.result import CheckResult

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)

RollupKey = tuple[str, str, datetime]  # (check, resolution, bucket_start)


def floor_minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def ceil_minute(at: datetime) -> datetime:
    floor = floor_minute(at)
    return floor if floor == at else floor + MINUTE


def floor_day(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def insert_for(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@dataclass(frozen=True, slots=True)
class MinuteClass:
    down: int
    observed: int
    unknown: int

    @classmethod
    def of(cls, count: int, failures: int, unknown: int) -> MinuteClass:
        known = count - unknown
        return cls(
            down=int(failures > 0),
            observed=int(known > 0),
            unknown=int(count > 0 and known == 0),
        )


@dataclass
class _Delta:
    count: int = 0
    failures: int = 0
    unknown: int = 0
    latency_sum_ms: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, result: CheckResult) -> None:
        self.count += 1
        if result.status == "unknown":
            # Opsbook's own network was down: the latency says nothing about the target.
            self.unknown += 1
            return
        if not result.ok:
            self.failures += 1
        duration_ms = result.duration * 1000
        self.latency_sum_ms += duration_ms
        self.latencies_ms.append(duration_ms)


def merge_results(session: Session, results: Sequence[CheckResult]) -> None:
    """Add ``results`` to their minute and day rollup rows, in the caller's transaction."""
    minute_deltas: dict[RollupKey, _Delta] = {}
    for result in results:
        key = (result.check, "minute", floor_minute(result.started_at))
        minute_deltas.setdefault(key, _Delta()).add(result)
    day_deltas: dict[RollupKey, _Delta] = {}
    for (check, _, minute), delta in minute_deltas.items():
        day = day_deltas.setdefault((check, "day", floor_day(minute)), _Delta())
        day.count += delta.count
        day.failures += delta.failures
        day.unknown += delta.unknown
        day.latency_sum_ms += delta.latency_sum_ms
        day.latencies_ms.extend(delta.latencies_ms)

    keys = sorted([*minute_deltas, *day_deltas])
    _ensure_rows(session, keys)
    current = _lock_rows(session, keys)
    updates: list[dict[str, Any]] = []
    minute_changes: dict[RollupKey, MinuteClass] = {}
    for key, delta in minute_deltas.items():
        row = current[key]
        before = MinuteClass.of(row["count"], row["failures"], row["unknown"])
        merged = _merged(row, delta)
        after = MinuteClass.of(merged["count"], merged["failures"], merged["unknown"])
        merged.update(down_minutes=after.down, observed_minutes=after.observed)
        merged["unknown_minutes"] = after.unknown
        updates.append(merged)
        day_key = (key[0], "day", floor_day(key[2]))
        change = minute_changes.get(day_key, MinuteClass(0, 0, 0))
        minute_changes[day_key] = MinuteClass(
            change.down + after.down - before.down,
            change.observed + after.observed - before.observed,
            change.unknown + after.unknown - before.unknown,
        )
    for key, delta in day_deltas.items():
        row = current[key]
        merged = _merged(row, delta)
        change = minute_changes[key]
        merged["down_minutes"] = row["down_minutes"] + change.down
        merged["observed_minutes"] = row["observed_minutes"] + change.observed
        merged["unknown_minutes"] = row["unknown_minutes"] + change.unknown
        updates.append(merged)
    if updates:
        session.execute(update_by_key(CheckRollup.__table__, _KEY_COLUMNS), updates)


def _merged(row: dict[str, Any], delta: _Delta) -> dict[str, Any]:
    hist = latency.add(row["latency_hist"] or {}, delta.latencies_ms)
    return {
        "key_check_name": row["check_name"],
        "key_resolution": row["resolution"],
        "key_bucket_start": row["bucket_start"],
        "count": row["count"] + delta.count,
        "failures": row["failures"] + delta.failures,
        "unknown": row["unknown"] + delta.unknown,
        "latency_sum_ms": row["latency_sum_ms"] + delta.latency_sum_ms,
        "latency_hist": hist,
        "p50_ms": latency.percentile(hist, 50),
        "p95_ms": latency.percentile(hist, 95),
        "p99_ms": latency.percentile(hist, 99),
    }


def _ensure_rows(session: Session, keys: Sequence[RollupKey]) -> None:
    # Insert-if-missing first, then lock: two writers can never both insert one key.
    if not keys:
        return
    empty = {
        "count": 0,
        "failures": 0,
        "unknown": 0,
        "latency_sum_ms": 0.0,
        "latency_hist": {},
        "down_minutes": 0,
        "observed_minutes": 0,
        "unknown_minutes": 0,
    }
    rows = [
        {"check_name": check, "resolution": resolution, "bucket_start": bucket, **empty}
        for check, resolution, bucket in keys
    ]
    stmt = insert_for(session)(CheckRollup.__table__).on_conflict_do_nothing(
        index_elements=["check_name", "resolution", "bucket_start"]
    )
    session.execute(stmt, rows)


_COLUMNS = (
    "check_name",
    "resolution",
    "bucket_start",
    "count",
    "failures",
    "unknown",
    "latency_sum_ms",
    "latency_hist",
    "down_minutes",
    "observed_minutes",
    "unknown_minutes",
)


def _lock_rows(session: Session, keys: Sequence[RollupKey]) -> dict[RollupKey, dict[str, Any]]:
    # A batch touches few distinct buckets (a minute or two, a day), so names x buckets
    # is a tight superset of the keys that an index range scan serves well; a row-value
    # IN list of hundreds of keys is much slower on PostgreSQL.
    stmt = (
        select(*(getattr(CheckRollup, name) for name in _COLUMNS))
        .where(
            CheckRollup.check_name.in_(sorted({key[0] for key in keys})),
            CheckRollup.bucket_start.in_(sorted({key[2] for key in keys})),
        )
        .order_by(CheckRollup.check_name, CheckRollup.resolution, CheckRollup.bucket_start)
        .with_for_update()
    )
    wanted = set(keys)
    rows = [dict(row._mapping) for row in session.execute(stmt)]
    return {
        key: row
        for row in rows
        if (key := (row["check_name"], row["resolution"], row["bucket_start"])) in wanted
    }


_KEY_COLUMNS = ("check_name", "resolution", "bucket_start")


def update_by_key(table: Any, key_columns: Sequence[str]) -> Any:
    """A Core UPDATE for executemany by primary key: far cheaper than the ORM bulk path.

    Parameters name key columns ``key_<name>`` (a bind cannot share a column's name).
    """
    where = [table.c[name] == bindparam(f"key_{name}") for name in key_columns]
    return table.update().where(*where)


@dataclass(frozen=True, slots=True)
class Uptime:
    """Uptime of one check over ``[start, end)``, counted in whole minutes.

    ``ratio`` is ``1 - down_minutes / total_minutes``; ``total_minutes`` counts observed
    minutes only, so minutes with no result or only ``unknown`` results (Opsbook's own
    network was down) count neither way; they are reported as ``unknown_minutes``.
    ``ratio`` is None when no minute was observed.  ``start`` and ``end`` are the window
    actually measured: widened to whole minutes, and to whole UTC days for edge days
    whose minute rollups have been pruned.
    """

    check: str
    start: datetime
    end: datetime
    down_minutes: int
    total_minutes: int
    unknown_minutes: int

    @property
    def ratio(self) -> float | None:
        if self.total_minutes == 0:
            return None
        return 1 - self.down_minutes / self.total_minutes


def compute_uptime(session: Session, *, check: str, start: datetime, end: datetime) -> Uptime:
    window_start, window_end = floor_minute(start), ceil_minute(end)
    measured_start, measured_end = window_start, window_end
    full_days: list[tuple[datetime, datetime]] = []
    totals = MinuteClass(0, 0, 0)
    cursor = window_start
    while cursor < window_end:
        day = floor_day(cursor)
        segment_end = min(day + DAY, window_end)
        if cursor == day and segment_end == day + DAY:
            full_days.append((cursor, segment_end))
        elif _minutes_complete(session, check, day):
            totals = _add(totals, _sum(session, check, "minute", cursor, segment_end))
        else:
            # The day's minute rows are pruned: only its day row is left, so count it whole.
            full_days.append((day, day + DAY))
            measured_start, measured_end = min(measured_start, day), max(measured_end, day + DAY)
        cursor = segment_end
    if full_days:
        first, last = full_days[0][0], full_days[-1][1]
        totals = _add(totals, _sum(session, check, "day", first, last))
    return Uptime(
        check=check,
        start=measured_start,
        end=measured_end,
        down_minutes=totals.down,
        total_minutes=totals.observed,
        unknown_minutes=totals.unknown,
    )


def _add(left: MinuteClass, right: MinuteClass) -> MinuteClass:
    return MinuteClass(
        left.down + right.down, left.observed + right.observed, left.unknown + right.unknown
    )


def _sum(
    session: Session, check: str, resolution: str, start: datetime, end: datetime
) -> MinuteClass:
    row = session.execute(
        select(
            func.coalesce(func.sum(CheckRollup.down_minutes), 0),
            func.coalesce(func.sum(CheckRollup.observed_minutes), 0),
            func.coalesce(func.sum(CheckRollup.unknown_minutes), 0),
        ).where(
            CheckRollup.check_name == check,
            CheckRollup.resolution == resolution,
            CheckRollup.bucket_start >= start,
            CheckRollup.bucket_start < end,
        )
    ).one()
    return MinuteClass(int(row[0]), int(row[1]), int(row[2]))


def _minutes_complete(session: Session, check: str, day: datetime) -> bool:
    """Whether ``day`` still has all its minute rows (prune drops whole days at once)."""
    minute_rows = session.scalar(
        select(func.count()).where(
            CheckRollup.check_name == check,
            CheckRollup.resolution == "minute",
            CheckRollup.bucket_start >= day,
            CheckRollup.bucket_start < day + DAY,
        )
    )
    day_row = session.execute(
        select(CheckRollup.observed_minutes, CheckRollup.unknown_minutes).where(
            CheckRollup.check_name == check,
            CheckRollup.resolution == "day",
            CheckRollup.bucket_start == day,
        )
    ).first()
    expected = 0 if day_row is None else day_row[0] + day_row[1]
    return minute_rows == expected
