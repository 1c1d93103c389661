"""Reading the store: which series match, their latest values, and windows over them.

Windows that start within raw retention read raw samples; older windows read the
5-minute rollups up to the rollup mark and raw samples after it, joined by
:func:`opsbook.metrics.windows.combine`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbook.metrics.models import MetricRollup, MetricRollupMark, MetricSample, MetricSeries
from opsbook.metrics.store import to_ms
from opsbook.metrics.windows import Point, Summary, combine, over_time, summarize

# An instant selector reads the newest sample this far back (Prometheus's lookback delta).
LOOKBACK = timedelta(minutes=5)
ROLLUP_MARK = "5m"
_CHUNK = 500

Labels = Mapping[str, str]


class LabelMatcher(Protocol):
    def matches(self, labels: dict[str, str]) -> bool: ...


@dataclass(frozen=True, slots=True)
class SeriesValue:
    labels: dict[str, str]
    value: float


@dataclass
class SeriesCatalog:
    """The series of each metric name, read once for a round of evaluations.

    A round evaluates many rules over few metric names; reading (and decoding) each
    name's label sets once is most of the saving.  Never keep one across rounds: it
    does not see series created after it read a name.
    """

    names: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)

    def series(self, session: Session, name: str) -> list[tuple[int, dict[str, str]]]:
        found = self.names.get(name)
        if found is None:
            rows = session.execute(
                select(MetricSeries.id, MetricSeries.labels).where(MetricSeries.name == name)
            )
            found = [
                (series_id, {str(k): str(v) for k, v in (labels or {}).items()})
                for series_id, labels in rows
            ]
            self.names[name] = found
        return found


def matching_series(
    session: Session,
    *,
    name: str,
    matchers: Sequence[LabelMatcher],
    catalog: SeriesCatalog | None = None,
) -> dict[int, dict[str, str]]:
    """Every stored series of ``name`` whose labels pass all ``matchers``: ``{id: labels}``."""
    known = (catalog or SeriesCatalog()).series(session, name)
    return {
        series_id: labels for series_id, labels in known if all(m.matches(labels) for m in matchers)
    }


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def raw_points(
    session: Session, *, series: Sequence[int], start_ms: int, end_ms: int
) -> dict[int, list[Point]]:
    """Samples in ``(start_ms, end_ms]`` per series, oldest first."""
    points: dict[int, list[Point]] = defaultdict(list)
    for chunk in _chunks(sorted(series)):
        rows = session.execute(
            select(MetricSample.series_id, MetricSample.at_ms, MetricSample.value)
            .where(
                MetricSample.series_id.in_(chunk),
                MetricSample.at_ms > start_ms,
                MetricSample.at_ms <= end_ms,
            )
            .order_by(MetricSample.series_id, MetricSample.at_ms)
        )
        for series_id, at_ms, value in rows:
            points[series_id].append((at_ms, value))
    return points


def _distinct_on(stmt: Any, column: Any) -> Any:
    # SQLAlchemy 2.1 spells DISTINCT ON as an extension; 2.0 only as distinct(column).
    try:
        from sqlalchemy.dialects.postgresql import distinct_on  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - SQLAlchemy 2.0
        return stmt.distinct(column)
    return stmt.ext(distinct_on(column))


def _newest(
    session: Session, *, series: Sequence[int], start_ms: int, end_ms: int
) -> dict[int, float]:
    """Each series' newest value in ``(start_ms, end_ms]``: one row per series read.

    PostgreSQL has ``DISTINCT ON``; SQLite documents that a bare column next to ``max()``
    comes from the row holding the maximum.  Both walk the primary key index.
    """
    found: dict[int, float] = {}
    postgres = session.get_bind().dialect.name == "postgresql"
    for chunk in _chunks(sorted(series)):
        where = (
            MetricSample.series_id.in_(chunk),
            MetricSample.at_ms > start_ms,
            MetricSample.at_ms <= end_ms,
        )
        stmt: Any
        if postgres:
            stmt = _distinct_on(
                select(MetricSample.series_id, MetricSample.value).where(*where),
                MetricSample.series_id,
            ).order_by(MetricSample.series_id, MetricSample.at_ms.desc())
        else:
            stmt = (
                select(MetricSample.series_id, MetricSample.value, func.max(MetricSample.at_ms))
                .where(*where)
                .group_by(MetricSample.series_id)
            )
        found.update((row[0], row[1]) for row in session.execute(stmt))
    return found


_SQL_AGGREGATES = ("avg", "max", "min", "sum", "count")


def _aggregate_of(function: str) -> Any:
    column = MetricSample.value
    if function == "avg":
        return func.avg(column)
    if function == "max":
        return func.max(column)
    if function == "min":
        return func.min(column)
    if function == "sum":
        return func.sum(column)
    return func.count(column)


def _aggregated(
    session: Session, *, function: str, series: Sequence[int], start_ms: int, end_ms: int
) -> dict[int, float]:
    """avg/max/min/sum/count over raw samples, computed by the database."""
    aggregate = _aggregate_of(function)
    found: dict[int, float] = {}
    for chunk in _chunks(sorted(series)):
        rows = session.execute(
            select(MetricSample.series_id, aggregate)
            .where(
                MetricSample.series_id.in_(chunk),
                MetricSample.at_ms > start_ms,
                MetricSample.at_ms <= end_ms,
            )
            .group_by(MetricSample.series_id)
        )
        found.update((series_id, float(value)) for series_id, value in rows if value is not None)
    return found


def latest(
    session: Session,
    *,
    name: str,
    matchers: Sequence[LabelMatcher],
    at: datetime,
    lookback: timedelta = LOOKBACK,
    catalog: SeriesCatalog | None = None,
) -> list[SeriesValue]:
    """Each matching series' newest value in ``(at - lookback, at]`` (an instant selector)."""
    series = matching_series(session, name=name, matchers=matchers, catalog=catalog)
    end = to_ms(at)
    values = _newest(session, series=list(series), start_ms=end - to_ms_delta(lookback), end_ms=end)
    return [SeriesValue(series[sid], value) for sid, value in sorted(values.items())]


def to_ms_delta(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


def rollup_mark(session: Session) -> int | None:
    return session.scalar(
        select(MetricRollupMark.until_ms).where(MetricRollupMark.name == ROLLUP_MARK)
    )


def _rollup_summaries(
    session: Session, *, series: Sequence[int], start_ms: int, until_ms: int
) -> dict[int, list[Summary]]:
    found: dict[int, list[Summary]] = defaultdict(list)
    for chunk in _chunks(sorted(series)):
        rows = session.execute(
            select(MetricRollup)
            .where(
                MetricRollup.series_id.in_(chunk),
                MetricRollup.bucket_ms >= start_ms,
                MetricRollup.bucket_ms < until_ms,
            )
            .order_by(MetricRollup.series_id, MetricRollup.bucket_ms)
        ).scalars()
        for row in rows:
            found[row.series_id].append(
                Summary(
                    count=row.count,
                    sum=row.sum,
                    min=row.min,
                    max=row.max,
                    first=row.first,
                    last=row.last,
                    first_ms=row.first_ms,
                    last_ms=row.last_ms,
                    increase=row.increase,
                )
            )
    return found


def window(
    session: Session,
    *,
    function: str,
    name: str,
    matchers: Sequence[LabelMatcher],
    at: datetime,
    length: timedelta,
    keep_raw: timedelta,
    phi: float | None = None,
    catalog: SeriesCatalog | None = None,
) -> list[SeriesValue]:
    """``function(name{matchers}[length])`` at ``at``, one value per series that has one."""
    series = matching_series(session, name=name, matchers=matchers, catalog=catalog)
    if not series:
        return []
    end_ms = to_ms(at)
    start_ms = end_ms - to_ms_delta(length)
    ids = list(series)
    mark = rollup_mark(session)
    raw_from = end_ms - to_ms_delta(keep_raw)
    use_rollups = (
        function != "quantile" and mark is not None and start_ms < raw_from and mark > start_ms
    )
    out: list[SeriesValue] = []
    if not use_rollups and function in (*_SQL_AGGREGATES, "last"):
        if function == "last":
            values = _newest(session, series=ids, start_ms=start_ms, end_ms=end_ms)
        else:
            values = _aggregated(
                session, function=function, series=ids, start_ms=start_ms, end_ms=end_ms
            )
        return [SeriesValue(series[sid], value) for sid, value in sorted(values.items())]
    if not use_rollups:
        points = raw_points(session, series=ids, start_ms=start_ms, end_ms=end_ms)
        for sid in sorted(points):
            summary = summarize(points[sid])
            if summary is None:
                continue
            value = over_time(
                function, summary, start_ms=start_ms, end_ms=end_ms, raw=points[sid], phi=phi
            )
            if value is not None:
                out.append(SeriesValue(series[sid], value))
        return out
    assert mark is not None
    buckets = _rollup_summaries(session, series=ids, start_ms=start_ms, until_ms=mark)
    tail = raw_points(session, series=ids, start_ms=max(mark, start_ms) - 1, end_ms=end_ms)
    for sid in sorted(set(buckets) | set(tail)):
        parts = list(buckets.get(sid, []))
        tail_summary = summarize([p for p in tail.get(sid, []) if p[0] >= mark])
        if tail_summary is not None:
            parts.append(tail_summary)
        summary = combine(parts)
        if summary is None:
            continue
        value = over_time(function, summary, start_ms=start_ms, end_ms=end_ms, raw=None, phi=phi)
        if value is not None:
            out.append(SeriesValue(series[sid], value))
    return out
