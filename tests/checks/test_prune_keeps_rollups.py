from __future__ import annotations

from datetime import timedelta

from checks_fakes import result
from sqlalchemy import func, select

from opsbook.checks.models import (
    CheckResultRecord,
    CheckRollup,
    CheckTransitionRecord,
)
from opsbook.checks.service import prune, record_results, results_since, uptime
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

DAY = timedelta(days=1)


def _count(db: Database, model: type, *where: object) -> int:
    with db.read_session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_raw_results_go_after_keep_raw_and_rollups_after_keep_rollups(
    db: Database, clock: FakeClock
) -> None:
    start = clock.now()
    for day in range(10):
        with db.session() as session, session.begin():
            at = start + day * DAY
            record_results(
                session,
                results=[result("api", at), result("api", at + timedelta(hours=1), ok=False)],
                now=at,
            )
    now = start + 10 * DAY
    month = {"check": "api", "start": start - DAY, "end": now}
    with db.read_session() as session:
        before = uptime(session, **month)
    with db.session() as session, session.begin():
        pruned = prune(session, now=now, keep_raw=timedelta(days=7))
    assert pruned.results == 6  # days 0, 1 and 2 are past seven days
    assert (pruned.minute_rollups, pruned.day_rollups) == (0, 0)
    with db.read_session() as session:
        assert uptime(session, **month) == before
        remaining = results_since(session, check="api", since=start, limit=100)
    assert remaining[0].started_at == start + 3 * DAY

    with db.session() as session, session.begin():
        pruned = prune(session, now=start + 405 * DAY, keep_raw=timedelta(days=7))
    assert (pruned.day_rollups, pruned.minute_rollups) == (5, 10)  # 400 days kept
    assert pruned.transitions == 10  # up, then down and up again each day: days 0 to 4
    assert _count(db, CheckTransitionRecord) == 10
    assert _count(db, CheckRollup, CheckRollup.resolution == "day") == 5
    assert _count(db, CheckResultRecord) == 0


def test_minute_rollups_may_be_kept_for_less_time_in_whole_days(
    db: Database, clock: FakeClock
) -> None:
    start = clock.now()  # 09:00
    with db.session() as session, session.begin():
        record_results(
            session,
            results=[result("api", start + timedelta(hours=h)) for h in range(0, 48, 6)],
            now=start,
        )
    with db.session() as session, session.begin():
        # now - 1 day is day 1, 09:00: minute rows go in whole days, so only day 0's.
        pruned = prune(session, now=start + 2 * DAY, keep_minute_rollups=DAY)
    assert pruned.minute_rollups == 3  # day 0: 09:00, 15:00, 21:00
    assert _count(db, CheckRollup, CheckRollup.resolution == "day") == 3
