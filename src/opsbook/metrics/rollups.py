"""Five-minute rollups written behind the raw samples, and retention of both.

A bucket is rolled up once it ended more than :data:`~opsbook.metrics.store.ACCEPT_PAST`
ago, since no sample can arrive for it after that; the mark (``metric_rollup_marks``)
says how far rollups are complete.  Each job run rolls up at most
:data:`MAX_BUCKETS_PER_RUN` buckets, so catching up after downtime is spread over runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbook.metrics.models import MetricRollup, MetricRollupMark, MetricSample, MetricSeries
from opsbook.metrics.query import ROLLUP_MARK, raw_points, rollup_mark, to_ms_delta
from opsbook.metrics.store import ACCEPT_PAST, to_ms
from opsbook.metrics.windows import summarize

BUCKET = timedelta(minutes=5)
BUCKET_MS = to_ms_delta(BUCKET)
MAX_BUCKETS_PER_RUN = 12


@dataclass(frozen=True, slots=True)
class RolledUp:
    buckets: int
    rows: int
    until_ms: int | None


def roll_up(session: Session, *, now: datetime) -> RolledUp:
    """Write the rollups of the buckets that can no longer change, in the caller's transaction."""
    ready_until = (to_ms(now - ACCEPT_PAST) // BUCKET_MS) * BUCKET_MS
    mark = rollup_mark(session)
    if mark is None:
        oldest = session.scalar(select(func.min(MetricSample.at_ms)))
        if oldest is None:
            return RolledUp(0, 0, None)
        mark = (oldest // BUCKET_MS) * BUCKET_MS
    until = min(ready_until, mark + MAX_BUCKETS_PER_RUN * BUCKET_MS)
    if until <= mark:
        return RolledUp(0, 0, mark)
    ids = list(
        session.scalars(
            select(MetricSample.series_id)
            .where(MetricSample.at_ms >= mark, MetricSample.at_ms < until)
            .distinct()
        )
    )
    rows = []
    points = raw_points(session, series=ids, start_ms=mark - 1, end_ms=until - 1)
    for series_id, series_points in points.items():
        by_bucket: dict[int, list[tuple[int, float]]] = {}
        for point in series_points:
            by_bucket.setdefault((point[0] // BUCKET_MS) * BUCKET_MS, []).append(point)
        for bucket, bucket_points in by_bucket.items():
            summary = summarize(bucket_points)
            assert summary is not None
            rows.append(
                {
                    "series_id": series_id,
                    "bucket_ms": bucket,
                    "count": summary.count,
                    "sum": summary.sum,
                    "min": summary.min,
                    "max": summary.max,
                    "first": summary.first,
                    "last": summary.last,
                    "first_ms": summary.first_ms,
                    "last_ms": summary.last_ms,
                    "increase": summary.increase,
                }
            )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    if rows:
        # A run that died after writing some rows and before the mark is simply redone.
        stmt = insert(MetricRollup)
        stmt = stmt.on_conflict_do_update(
            index_elements=["series_id", "bucket_ms"],
            set_={c: stmt.excluded[c] for c in rows[0] if c not in ("series_id", "bucket_ms")},
        )
        session.execute(stmt, rows)
    mark_stmt = insert(MetricRollupMark).values(name=ROLLUP_MARK, until_ms=until)
    session.execute(
        mark_stmt.on_conflict_do_update(index_elements=["name"], set_={"until_ms": until})
    )
    return RolledUp((until - mark) // BUCKET_MS, len(rows), until)


@dataclass(frozen=True, slots=True)
class MetricsPruned:
    samples: int
    rollups: int
    series: int


def prune(
    session: Session, *, now: datetime, keep_raw: timedelta, keep_rollups: timedelta
) -> MetricsPruned:
    """Drop raw samples older than ``keep_raw`` (only once rolled up) and rollups past theirs."""
    mark = rollup_mark(session)
    # Never drop a raw sample that is not in a rollup yet (the rollup job was down).
    raw_before = min(to_ms(now - keep_raw), mark if mark is not None else 0)
    rollups_before = to_ms(now - keep_rollups)
    samples = rollups = 0
    ids = sorted(session.scalars(select(MetricSeries.id)))
    # Per chunk of series, so each delete walks the primary key rather than the table.
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        samples += session.execute(
            delete(MetricSample).where(
                MetricSample.series_id.in_(chunk), MetricSample.at_ms < raw_before
            )
        ).rowcount  # type: ignore[attr-defined]
        rollups += session.execute(
            delete(MetricRollup).where(
                MetricRollup.series_id.in_(chunk), MetricRollup.bucket_ms < rollups_before
            )
        ).rowcount  # type: ignore[attr-defined]
    # A series with nothing left is forgotten; one written in the last hour is kept even
    # if its samples are not visible yet, so a cached series id always has its row.
    has_samples = exists().where(MetricSample.series_id == MetricSeries.id)
    has_rollups = exists().where(MetricRollup.series_id == MetricSeries.id)
    series = session.execute(
        delete(MetricSeries).where(
            ~has_samples, ~has_rollups, MetricSeries.created_at < now - timedelta(hours=1)
        )
    )
    return MetricsPruned(
        samples=samples,
        rollups=rollups,
        series=series.rowcount,  # type: ignore[attr-defined]
    )
