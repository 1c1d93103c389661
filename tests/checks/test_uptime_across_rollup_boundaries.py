"""Uptime from rollups equals a brute-force count over the same result stream.

The stream crosses minute and day boundaries, arrives shuffled in batches, and is then
pruned: raw results (which uptime never reads) and minute rollups older than whole
days, after which those days are answered from their day rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from checks_fakes import clear_check_tables, result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbook.checks.result import CheckStatus
from opsbook.checks.rollups import MinuteClass, ceil_minute, floor_day, floor_minute
from opsbook.checks.service import prune, record_results, uptime
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

# Two hours before midnight: streams of three days cross day boundaries at minute 120.
BASE = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
MINUTE, DAY = timedelta(minutes=1), timedelta(days=1)
SPAN_MINUTES = 3 * 1440

minutes = st.one_of(
    st.integers(0, SPAN_MINUTES - 1),
    st.sampled_from([0, 119, 120, 121, 1559, 1560, 1561, 2999, 3000]),  # crowd the edges
)
events = st.tuples(minutes, st.integers(0, 59), st.sampled_from(["up", "down", "unknown"]))


def _brute_force(
    stream: list[tuple[int, int, str]],
    start: datetime,
    end: datetime,
    minute_horizon: datetime | None,
) -> MinuteClass:
    per_minute: dict[datetime, list[str]] = defaultdict(list)
    for minute, _second, status in stream:
        per_minute[BASE + minute * MINUTE].append(status)
    wanted, cursor = set(), floor_minute(start)
    while cursor < ceil_minute(end):
        wanted.add(cursor)
        cursor += MINUTE
    for day in {floor_day(m) for m in wanted}:
        partial = any(day + i * MINUTE not in wanted for i in range(1440))
        if minute_horizon is not None and day < minute_horizon and partial:
            wanted |= {day + i * MINUTE for i in range(1440)}  # widened to the whole day
    down = observed = unknown = 0
    for minute in wanted:
        statuses = per_minute.get(minute, [])
        known = [s for s in statuses if s != "unknown"]
        down += "down" in known
        observed += bool(known)
        unknown += bool(statuses) and not known
    return MinuteClass(down, observed, unknown)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stream=st.lists(events, min_size=1, max_size=60),
    batch_size=st.integers(1, 25),
    order=st.randoms(use_true_random=False),
    prune_after_days=st.none() | st.integers(1, 5),
    keep_minute_days=st.integers(1, 3),
    keep_raw_days=st.integers(0, 3),
    windows=st.lists(
        st.tuples(st.integers(-1440 * 60, 4 * 1440 * 60), st.integers(1, 4 * 1440 * 60)),
        min_size=1,
        max_size=4,
    ),
)
def test_uptime_from_rollups_equals_a_brute_force_count(
    db: Database,
    clock: FakeClock,
    stream: list[tuple[int, int, str]],
    batch_size: int,
    order: object,
    prune_after_days: int | None,
    keep_minute_days: int,
    keep_raw_days: int,
    windows: list[tuple[int, int]],
) -> None:
    clear_check_tables(db)
    clock.set(BASE)
    results = [
        result(
            "api",
            BASE + minute * MINUTE + timedelta(seconds=second),
            ok=status == "up",
            status=status,  # type: ignore[arg-type]
        )
        for minute, second, status in stream
    ]
    order.shuffle(results)  # type: ignore[attr-defined]
    for i in range(0, len(results), batch_size):
        with db.session() as session, session.begin():
            record_results(session, results=results[i : i + batch_size], now=clock.now())

    horizon = None
    if prune_after_days is not None:
        now = clock.advance(prune_after_days * DAY + timedelta(hours=5))
        keep_minutes = keep_minute_days * DAY
        with db.session() as session, session.begin():
            prune(
                session,
                now=now,
                keep_raw=keep_raw_days * DAY,
                keep_minute_rollups=keep_minutes,
            )
        horizon = floor_day(now - keep_minutes)

    for offset, length in windows:
        start = BASE + timedelta(seconds=offset)
        end = start + timedelta(seconds=length)
        with db.read_session() as session:
            measured = uptime(session, check="api", start=start, end=end)
        expected = _brute_force(stream, start, end, horizon)
        got = (measured.down_minutes, measured.total_minutes, measured.unknown_minutes)
        assert got == (expected.down, expected.observed, expected.unknown)
        assert measured.start <= start
        assert measured.end >= end


def _record(db: Database, now: datetime, statuses: dict[timedelta, CheckStatus]) -> None:
    with db.session() as session, session.begin():
        record_results(
            session,
            results=[result("api", now + at, ok=s == "up", status=s) for at, s in statuses.items()],
            now=now,
        )


def test_a_month_counts_minutes_of_downtime_from_day_rows_once_minutes_are_pruned(
    db: Database, clock: FakeClock
) -> None:
    day0 = floor_day(clock.now())
    statuses: dict[timedelta, CheckStatus] = {i * MINUTE: "up" for i in range(0, 1440, 10)}
    statuses.update({timedelta(hours=3, minutes=i): "down" for i in range(3)})
    statuses[timedelta(hours=5)] = "unknown"  # 142 up, 3 down and 1 unknown minutes
    _record(db, day0, statuses)
    month = {"start": day0 - 10 * DAY, "end": day0 + 20 * DAY}
    with db.read_session() as session:
        before = uptime(session, check="api", **month)
    with db.session() as session, session.begin():
        prune(session, now=day0 + 15 * DAY, keep_raw=DAY, keep_minute_rollups=7 * DAY)
    with db.read_session() as session:
        after = uptime(session, check="api", **month)
        # A window that cuts the pruned day in half is widened to the whole day.
        part = uptime(
            session, check="api", start=day0 + timedelta(hours=2), end=day0 + timedelta(hours=4)
        )
    assert before == after
    assert (after.down_minutes, after.total_minutes, after.unknown_minutes) == (3, 145, 1)
    assert after.ratio is not None
    assert abs(after.ratio - (1 - 3 / 145)) < 1e-12
    assert (part.start, part.end, part.down_minutes) == (day0, day0 + DAY, 3)


def test_a_window_without_results_has_no_ratio(db: Database, clock: FakeClock) -> None:
    with db.read_session() as session:
        empty = uptime(session, check="api", start=clock.now() - DAY, end=clock.now())
    assert (empty.ratio, empty.total_minutes) == (None, 0)
