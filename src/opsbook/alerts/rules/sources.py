"""Where rule expressions read their data: the metrics store and the checks' results.

Check functions read raw results for windows up to :data:`RAW_WINDOW` (exact), the
per-minute rollups up to :data:`MINUTE_WINDOW` (whole minutes) and the per-day rollups
beyond (whole UTC days); availability is the checks' own uptime (minutes with a failure
count as down, see docs/checks-storage.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from opsbook.alerts.rules.ast import CHECK_LABEL, CheckFunction, OverTime, Selector
from opsbook.alerts.rules.evaluator import METRIC_NAME_LABEL, Series, Vector
from opsbook.checks import latency
from opsbook.checks.models import CheckResultRecord, CheckRollup, CheckStateRecord
from opsbook.checks.rollups import floor_day, floor_minute
from opsbook.checks.service import uptime
from opsbook.metrics import query

RAW_WINDOW: Final = timedelta(hours=6)
MINUTE_WINDOW: Final = timedelta(days=2)
_PERCENTILES: Final = {"latency_p50": 50, "latency_p95": 95, "latency_p99": 99}


@dataclass
class StoreData:
    """A :class:`~opsbook.alerts.rules.evaluator.RuleData` over this database.

    ``check_labels`` maps each configured check to its labels (``check`` plus its ``labels:``).
    """

    session: Session
    check_labels: Mapping[str, Mapping[str, str]]
    keep_raw: timedelta
    catalog: query.SeriesCatalog = field(default_factory=query.SeriesCatalog)

    def instant(self, selector: Selector, at: datetime) -> Vector:
        found = query.latest(
            self.session,
            name=selector.metric,
            matchers=selector.matchers,
            at=at,
            catalog=self.catalog,
        )
        return [Series({**s.labels, METRIC_NAME_LABEL: selector.metric}, s.value) for s in found]

    def over_time(self, node: OverTime, at: datetime) -> Vector:
        found = query.window(
            self.session,
            function=node.function,
            name=node.selector.metric,
            matchers=node.selector.matchers,
            at=at,
            length=node.window,
            keep_raw=self.keep_raw,
            phi=node.phi,
            catalog=self.catalog,
        )
        return [Series(s.labels, s.value) for s in found]

    def checks_matching(self, node: CheckFunction) -> list[tuple[str, dict[str, str]]]:
        found = []
        for name, labels in sorted(self.check_labels.items()):
            series = {**labels, CHECK_LABEL: name}
            if all(m.matches(series) for m in node.checks.matchers):
                found.append((name, series))
        return found

    def checks(self, node: CheckFunction, at: datetime) -> Vector:
        out: Vector = []
        for name, labels in self.checks_matching(node):
            value = check_value(
                self.session, function=node.function, check=name, at=at, window=node.window
            )
            if value is not None:
                out.append(Series(labels, value))
        return out


def check_value(
    session: Session, *, function: str, check: str, at: datetime, window: timedelta | None
) -> float | None:
    """One check function's value for one check; None when the window holds no result."""
    if function == "consecutive_failures":
        count = session.scalar(
            select(CheckStateRecord.consecutive_failures).where(
                CheckStateRecord.check_name == check
            )
        )
        return None if count is None else float(count)
    assert window is not None
    start = at - window
    if function == "availability":
        return uptime(session, check=check, start=start, end=at).ratio
    if window <= RAW_WINDOW:
        return _from_raw(session, function=function, check=check, start=start, end=at)
    return _from_rollups(
        session, function=function, check=check, start=start, end=at, window=window
    )


def _from_raw(
    session: Session, *, function: str, check: str, start: datetime, end: datetime
) -> float | None:
    where = (
        CheckResultRecord.check_name == check,
        CheckResultRecord.started_at > start,
        CheckResultRecord.started_at <= end,
        CheckResultRecord.status != "unknown",
    )
    if function == "error_ratio":
        failed = func.sum(case((CheckResultRecord.ok.is_(False), 1), else_=0))
        total, failures = session.execute(select(func.count(), failed).where(*where)).one()
        return None if not total else float(failures or 0) / total
    durations = sorted(session.scalars(select(CheckResultRecord.duration_ms).where(*where)))
    if not durations:
        return None
    percent = _PERCENTILES[function]
    rank = max(1, -(-percent * len(durations) // 100))  # nearest rank, as the rollups use
    return durations[rank - 1] / 1000


def _from_rollups(
    session: Session,
    *,
    function: str,
    check: str,
    start: datetime,
    end: datetime,
    window: timedelta,
) -> float | None:
    if window <= MINUTE_WINDOW:
        resolution, first = "minute", floor_minute(start)
    else:
        resolution, first = "day", floor_day(start)
    rows: Sequence[CheckRollup] = list(
        session.scalars(
            select(CheckRollup).where(
                CheckRollup.check_name == check,
                CheckRollup.resolution == resolution,
                CheckRollup.bucket_start >= first,
                CheckRollup.bucket_start < end,
            )
        )
    )
    if function == "error_ratio":
        total = sum(row.count - row.unknown for row in rows)
        return None if not total else sum(row.failures for row in rows) / total
    histogram: latency.Histogram = {}
    for row in rows:
        histogram = latency.merge(histogram, row.latency_hist or {})
    found = latency.percentile(histogram, _PERCENTILES[function])
    return None if found is None else found / 1000
