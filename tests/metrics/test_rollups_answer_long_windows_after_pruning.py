"""Raw samples have bounded retention; 5-minute rollups answer the windows beyond it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from opsbook.config import load_config_text
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRegistry, JobRunner
from opsbook.core.models import Job
from opsbook.metrics.jobs import ROLLUP_KIND, register_metric_jobs, schedule_metric_jobs
from opsbook.metrics.models import MetricRollup, MetricSample, MetricSeries
from opsbook.metrics.query import window
from opsbook.metrics.rollups import prune, roll_up
from opsbook.metrics.store import Sample, write_samples
from opsbook.metrics.windows import combine, summarize

STEP = timedelta(seconds=15)


def fill(db: Database, clock: FakeClock, hours: int) -> None:
    """A counter going up 4 a step (with one reset) and a gauge cycling 0..9, every 15 s."""
    counter, samples = 0.0, []
    for step in range(hours * 240):
        # Off the 5-minute grid, so raw windows and bucket-aligned rollups see the same samples.
        at = clock.now() + step * STEP + timedelta(seconds=7)
        counter = 0.0 if step == 300 else counter + 4
        samples += [
            Sample("requests_total", {"job": "api"}, counter, at),
            Sample("temperature", {"room": "a"}, float(step % 10), at),
        ]
    with db.session() as session, session.begin():
        write_samples(session, samples=samples, now=clock.now())
    clock.advance(hours * timedelta(hours=1))


def catch_up(db: Database, clock: FakeClock) -> None:
    for _ in range(100):
        with db.session() as session, session.begin():
            done = roll_up(session, now=clock.now())
        if done.buckets == 0:
            return


def answer(db: Database, clock: FakeClock, function: str, name: str, keep_raw: timedelta) -> float:
    with db.read_session() as session:
        (found,) = window(
            session,
            function=function,
            name=name,
            matchers=[],
            at=clock.now(),
            length=timedelta(hours=3),
            keep_raw=keep_raw,
        )
    return found.value


@pytest.mark.parametrize(
    ("function", "name"),
    [
        ("avg", "temperature"),
        ("max", "temperature"),
        ("min", "temperature"),
        ("sum", "temperature"),
        ("count", "temperature"),
        ("last", "temperature"),
        ("increase", "requests_total"),
    ],
)
def test_rollups_give_what_the_raw_samples_gave(
    db: Database, clock: FakeClock, function: str, name: str
) -> None:
    fill(db, clock, hours=4)
    raw = answer(db, clock, function, name, keep_raw=timedelta(days=2))
    catch_up(db, clock)
    with db.session() as session, session.begin():
        pruned = prune(
            session, now=clock.now(), keep_raw=timedelta(hours=2), keep_rollups=timedelta(days=90)
        )
    assert pruned.samples > 0
    rolled = answer(db, clock, function, name, keep_raw=timedelta(hours=2))
    if function == "increase":
        # Raw windows extrapolate to the edges as Prometheus does; rollups do not.
        assert rolled == pytest.approx(raw, rel=0.01)
        assert rolled == 4 * (3 * 240 - 1) - 4 * 0 - 4, "every step but the reset"
    else:
        assert rolled == pytest.approx(raw)


def test_prune_keeps_samples_that_are_not_rolled_up(db: Database, clock: FakeClock) -> None:
    fill(db, clock, hours=4)
    with db.session() as session, session.begin():
        pruned = prune(
            session, now=clock.now(), keep_raw=timedelta(hours=2), keep_rollups=timedelta(days=90)
        )
    assert pruned.samples == 0, "no rollup yet: the raw samples are all there is"


def test_old_rollups_and_empty_series_go(db: Database, clock: FakeClock) -> None:
    fill(db, clock, hours=4)
    catch_up(db, clock)
    clock.advance(timedelta(days=91))
    catch_up(db, clock)
    with db.session() as session, session.begin():
        pruned = prune(
            session, now=clock.now(), keep_raw=timedelta(days=2), keep_rollups=timedelta(days=90)
        )
    assert pruned.series == 2
    with db.read_session() as session:
        for model in (MetricSample, MetricRollup, MetricSeries):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_the_rollup_job_books_its_next_run(db: Database, clock: FakeClock) -> None:
    fill(db, clock, hours=3)
    registry = JobRegistry()
    config = load_config_text("service: {name: T}")
    register_metric_jobs(registry, config=lambda: config)
    runner = JobRunner(db, registry, clock, worker_id="w")
    with db.session() as session, session.begin():
        schedule_metric_jobs(session, now=clock.now())
    clock.advance(timedelta(minutes=5))
    for _ in range(10):  # catch-up runs come 5 s apart
        runner.run_until_idle()
        clock.advance(timedelta(seconds=5))
    with db.read_session() as session:
        pending = session.scalars(
            select(Job).where(Job.kind == ROLLUP_KIND, Job.status == "pending")
        ).all()
        rolled = session.scalar(select(func.count()).select_from(MetricRollup))
    assert len(pending) >= 1
    # Now is 3h05m50s after the first sample: buckets that ended an hour ago are rolled up.
    assert rolled == 2 * 25, "two series, 2h05m of 5-minute buckets"


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=40), st.data())
def test_joined_summaries_equal_the_summary_of_all(
    values: list[float], data: st.DataObject
) -> None:
    points = [(i * 1000, v) for i, v in enumerate(values)]
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(points)), max_size=5))))
    parts, start = [], 0
    for cut in [*cuts, len(points)]:
        part = summarize(points[start:cut])
        if part is not None:
            parts.append(part)
        start = cut
    whole, joined = summarize(points), combine(parts)
    assert whole is not None
    assert joined is not None
    assert joined.increase == pytest.approx(whole.increase)
    assert (joined.count, joined.min, joined.max, joined.first, joined.last) == (
        whole.count,
        whole.min,
        whole.max,
        whole.first,
        whole.last,
    )
    assert joined.sum == pytest.approx(whole.sum)
