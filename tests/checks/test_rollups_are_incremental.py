from __future__ import annotations

from datetime import timedelta

from checks_fakes import result
from sqlalchemy import select

from opsbook.checks import latency
from opsbook.checks.models import CheckRollup
from opsbook.checks.service import prune, record_results
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database


def _rollups(db: Database, resolution: str) -> list[CheckRollup]:
    with db.read_session() as session:
        return list(
            session.scalars(
                select(CheckRollup)
                .where(CheckRollup.resolution == resolution)
                .order_by(CheckRollup.bucket_start)
            )
        )


def test_batches_merge_into_the_same_minute_and_day_rows(db: Database, clock: FakeClock) -> None:
    minute = clock.now()
    first = [result("api", minute + timedelta(seconds=s), duration=0.1) for s in (0, 10, 20)]
    second = [
        result("api", minute + timedelta(seconds=30), ok=False, duration=2.0),
        result("api", minute + timedelta(seconds=40), status="unknown"),
    ]
    for batch in (first, second):
        with db.session() as session, session.begin():
            record_results(session, results=batch, now=clock.now())

    [row] = _rollups(db, "minute")
    assert (row.count, row.failures, row.unknown) == (5, 1, 1)
    assert row.latency_sum_ms == 2300.0  # unknown results carry no latency
    assert sum(row.latency_hist.values()) == 4
    assert row.p50_ms is not None
    assert abs(row.p50_ms - 100) <= 100 * latency.RELATIVE_ERROR
    assert row.p99_ms is not None
    assert abs(row.p99_ms - 2000) <= 2000 * latency.RELATIVE_ERROR
    assert (row.down_minutes, row.observed_minutes, row.unknown_minutes) == (1, 1, 0)
    [day] = _rollups(db, "day")
    assert (day.count, day.failures, day.unknown, day.down_minutes) == (5, 1, 1, 1)
    assert day.latency_hist == row.latency_hist


def test_rollups_survive_the_pruning_of_raw_results(db: Database, clock: FakeClock) -> None:
    start = clock.now()
    with db.session() as session, session.begin():
        record_results(
            session,
            results=[result("api", start + timedelta(minutes=m), ok=m % 2 == 0) for m in range(4)],
            now=start,
        )
    with db.session() as session, session.begin():
        pruned = prune(session, now=start + timedelta(days=8), keep_raw=timedelta(days=7))
    assert pruned.results == 4
    assert [r.down_minutes for r in _rollups(db, "minute")] == [0, 1, 0, 1]
    assert [r.down_minutes for r in _rollups(db, "day")] == [2]


def test_a_late_result_updates_its_minute_and_the_day_class_counts(
    db: Database, clock: FakeClock
) -> None:
    start = clock.now()
    with db.session() as session, session.begin():
        record_results(session, results=[result("api", start)], now=start)
        record_results(session, results=[result("api", start + timedelta(minutes=5))], now=start)
    with db.session() as session, session.begin():
        # Arrives after the next minute's result: the first minute turns down.
        record_results(
            session, results=[result("api", start + timedelta(seconds=30), ok=False)], now=start
        )
    assert [r.down_minutes for r in _rollups(db, "minute")] == [1, 0]
    [day] = _rollups(db, "day")
    assert (day.down_minutes, day.observed_minutes) == (1, 2)
