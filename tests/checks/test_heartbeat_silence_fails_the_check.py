from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from opsbook.checks.heartbeat.config import HeartbeatCheckConfig
from opsbook.checks.heartbeat.service import (
    HeartbeatCheck,
    evaluate,
    next_cron_fire,
    record_ping,
)
from opsbook.checks.result import CheckResult
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

LONDON = ZoneInfo("Europe/London")
KEY = "k" * 24


def _hourly(grace: str = "5m") -> HeartbeatCheck:
    return HeartbeatCheck("backup", HeartbeatCheckConfig(key=KEY, period="1h", grace=grace))


def _cron(expression: str, grace: str = "10m") -> HeartbeatCheck:
    config = HeartbeatCheckConfig(key=KEY, cron=expression, timezone="Europe/London", grace=grace)
    return HeartbeatCheck("nightly", config)


def _evaluate(db: Database, check: HeartbeatCheck, now: datetime) -> CheckResult:
    with db.session() as session, session.begin():
        [result] = evaluate(session, checks=[check], now=now)
    return result


def _ping(db: Database, check: HeartbeatCheck, now: datetime, key: str = KEY) -> str | None:
    with db.session() as session, session.begin():
        return record_ping(session, checks=[check], key=key, now=now, source="10.0.0.7")


def test_a_ping_with_an_unknown_key_matches_nothing_and_changes_nothing(
    db: Database, clock: FakeClock
) -> None:
    check = _hourly()
    assert _ping(db, check, clock.now(), key="x" * 24) is None
    assert _ping(db, check, clock.now(), key=KEY[:-1]) is None
    assert _ping(db, check, clock.now()) == "backup"
    result = _evaluate(db, check, clock.now())
    assert (result.observed["pings"], result.observed["last_source"]) == (1, "10.0.0.7")


def test_silence_past_period_plus_grace_fails_and_a_ping_recovers(
    db: Database, clock: FakeClock
) -> None:
    check, start = _hourly(), clock.now()
    assert _evaluate(db, check, start).ok  # watching starts: one period plus grace to ping
    assert _evaluate(db, check, start + timedelta(minutes=65)).ok
    late = _evaluate(db, check, start + timedelta(minutes=65, seconds=1))
    assert (late.ok, late.status, late.kind) == (False, "down", "heartbeat")
    assert late.reason is not None
    assert late.reason.code == "timeout"
    assert "no ping ever" in late.reason.message

    _ping(db, check, start + timedelta(minutes=70))
    assert _evaluate(db, check, start + timedelta(minutes=71)).ok
    assert _evaluate(db, check, start + timedelta(minutes=135)).ok
    assert not _evaluate(db, check, start + timedelta(minutes=136)).ok


def test_cron_periods_follow_the_local_clock_across_spring_forward(
    db: Database, clock: FakeClock
) -> None:
    # 2026-03-29: London jumps from 01:00 GMT to 02:00 BST.  A 03:00 job runs at 02:00 UTC.
    check = _cron("0 3 * * *")
    ping = datetime(2026, 3, 28, 3, 1, tzinfo=UTC)  # 03:01 GMT
    _ping(db, check, ping)
    assert _evaluate(db, check, datetime(2026, 3, 29, 2, 10, tzinfo=UTC)).ok
    assert not _evaluate(db, check, datetime(2026, 3, 29, 2, 11, tzinfo=UTC)).ok

    # A time the jump skips (01:30) fires after it: 02:30 BST, 01:30 UTC.
    skipped = next_cron_fire("30 1 * * *", LONDON, after=datetime(2026, 3, 28, 2, tzinfo=UTC))
    assert skipped == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_cron_periods_fire_once_in_the_repeated_hour_of_fall_back(
    db: Database, clock: FakeClock
) -> None:
    # 2026-10-25: 01:00-02:00 happens twice in London (BST, then GMT).
    check = _cron("30 1 * * *")
    first_run = datetime(2026, 10, 25, 0, 31, tzinfo=UTC)  # 01:31 BST, the first 01:30
    _ping(db, check, first_run)
    # The second 01:30 (01:30 UTC) is not a new run: nothing is due until tomorrow.
    assert _evaluate(db, check, datetime(2026, 10, 25, 1, 45, tzinfo=UTC)).ok
    assert _evaluate(db, check, datetime(2026, 10, 26, 1, 40, tzinfo=UTC)).ok
    assert not _evaluate(db, check, datetime(2026, 10, 26, 1, 41, tzinfo=UTC)).ok
    assert next_cron_fire("30 1 * * *", LONDON, after=first_run) == datetime(
        2026, 10, 26, 1, 30, tzinfo=UTC
    )


def test_cron_without_a_time_zone_is_utc(db: Database, clock: FakeClock) -> None:
    config = HeartbeatCheckConfig(key=KEY, cron="0 * * * *", grace="1m")
    check = HeartbeatCheck("hourly", config)
    start = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)
    assert _evaluate(db, check, start).ok
    assert _evaluate(db, check, start + timedelta(minutes=31)).ok
    assert not _evaluate(db, check, start + timedelta(minutes=31, seconds=1)).ok
