"""Evaluation over the real store: vector matching, aggregation, over-time functions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from rules_support import check_result, push, record_checks

from opsbook.alerts.rules.evaluator import Candidate, EvaluationError, candidates, evaluate
from opsbook.alerts.rules.expression import Expression
from opsbook.alerts.rules.parser import parse
from opsbook.alerts.rules.sources import StoreData
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

MINUTE = timedelta(minutes=1)


def run(db: Database, text: str, at: datetime) -> list[Candidate]:
    with db.read_session() as session:
        data = StoreData(session, check_labels={"api": {"team": "web"}}, keep_raw=timedelta(days=2))
        found = candidates(Expression.parse(text).tree, data, at)
    return sorted(found, key=lambda c: sorted(c.labels.items()))


def value(db: Database, text: str, at: datetime) -> object:
    with db.read_session() as session:
        data = StoreData(session, check_labels={}, keep_raw=timedelta(days=2))
        return evaluate(parse(text), data, at)


def test_one_to_one_matching_pairs_series_by_their_labels(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    push(
        db,
        [
            ("used", {"provider": "a"}, 95.0),
            ("used", {"provider": "b"}, 10.0),
            ("used", {"provider": "c"}, 99.0),  # no limit: no pair, no alert
            ("limit", {"provider": "a"}, 100.0),
            ("limit", {"provider": "b"}, 100.0),
        ],
        now,
    )
    found = run(db, "used / limit > 90%", now)
    assert [(dict(c.labels), c.value, c.holds) for c in found] == [
        ({"provider": "a"}, 0.95, True),
        ({"provider": "b"}, 0.1, False),
    ]
    assert found[0].threshold == 0.9


def test_on_and_ignoring_choose_the_matching_labels(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    push(
        db,
        [
            ("in_use", {"pool": "main", "host": "a"}, 20.0),
            ("max_size", {"pool": "main", "kind": "config"}, 20.0),
        ],
        now,
    )
    (on,) = run(db, "in_use >= on(pool) max_size", now)
    assert on.holds
    # As in PromQL, one-to-one matching on(...) keeps only the labels it matched on.
    assert dict(on.labels) == {"pool": "main"}
    assert value(db, "in_use - ignoring(host, kind) max_size", now) != []
    push(db, [("max_size", {"pool": "main", "kind": "other"}, 5.0)], now)
    with pytest.raises(EvaluationError, match="two series on the right"):
        value(db, "in_use >= on(pool) max_size", now)


def test_aggregations_group_by_labels(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    push(
        db,
        [
            ("errors", {"job": "api", "code": "500"}, 3.0),
            ("errors", {"job": "api", "code": "503"}, 4.0),
            ("errors", {"job": "web", "code": "500"}, 1.0),
        ],
        now,
    )
    found = run(db, "sum by (job) (errors) > 2", now)
    assert [(dict(c.labels), c.value) for c in found] == [
        ({"job": "api"}, 7.0),
        ({"job": "web"}, 1.0),
    ]
    (total,) = run(db, "sum(errors) > 0", now)
    assert (dict(total.labels), total.value) == ({}, 8.0)
    (most,) = run(db, "max without (code) (errors) > 0", now)[:1]
    assert dict(most.labels) == {"job": "api"}
    assert most.value == 4.0
    (count,) = run(db, "count(errors) > 0", now)
    assert count.value == 3
    (median,) = run(db, "quantile(0.5, errors) > 0", now)
    assert median.value == 3.0


def test_over_time_functions_read_the_window(db: Database, clock: FakeClock) -> None:
    start = clock.now()
    for minute in range(10):
        push(db, [("temp", {"room": "a"}, float(minute))], start + minute * MINUTE)
    at = start + 9 * MINUTE
    assert [c.value for c in run(db, "max(temp[5m]) > 0", at)] == [9.0]
    assert [c.value for c in run(db, "min(temp[5m]) > 0", at)] == [5.0], "(at-5m, at]"
    assert [c.value for c in run(db, "avg(temp[5m]) > 0", at)] == [7.0]
    assert [c.value for c in run(db, "sum(temp[5m]) > 0", at)] == [35.0]
    assert [c.value for c in run(db, "count(temp[5m]) > 0", at)] == [5.0]
    assert [c.value for c in run(db, "last(temp[5m]) > 0", at)] == [9.0]
    assert [c.value for c in run(db, "quantile(0.5, temp[5m]) > 0", at)] == [7.0]
    assert [c.value for c in run(db, "temp > 0", at)] == [9.0], "the newest sample"
    assert run(db, "temp > 0", at + 6 * MINUTE) == [], "older than the 5m lookback: gone"


def test_rate_and_increase_extrapolate_and_survive_counter_resets(
    db: Database, clock: FakeClock
) -> None:
    start = clock.now()
    values = [0, 60, 120, 180, 20, 80]  # a restart between the 4th and the 5th sample
    for index, counter in enumerate(values):
        push(db, [("requests_total", {}, float(counter))], start + index * MINUTE)
    at = start + 5 * MINUTE
    (increase,) = run(db, "increase(requests_total[5m]) > 0", at)
    # Observed from the 2nd sample on (the window is (at-5m, at]): 60+60+20+60 = 200 over
    # 4 minutes. The first sample is one interval (60 s < 1.1 x 60 s) after the window's
    # start, so Prometheus extrapolates over it: 200 * 5/4.
    assert increase.value == pytest.approx(250.0)
    (rate,) = run(db, "rate(requests_total[5m]) > 0", at)
    assert rate.value == pytest.approx(250.0 / 300)


def test_histogram_quantile_interpolates_inside_the_bucket(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    buckets = {"0.1": 50.0, "0.5": 90.0, "1": 100.0, "+Inf": 100.0}
    push(db, [("latency_bucket", {"le": le, "job": "api"}, n) for le, n in buckets.items()], now)
    (p95,) = run(db, "histogram_quantile(0.95, latency_bucket) > 0", now)
    assert dict(p95.labels) == {"job": "api"}
    assert p95.value == pytest.approx(0.5 + 0.5 * (95 - 90) / 10)
    (p50,) = run(db, "histogram_quantile(0.5, latency_bucket) > 0", now)
    assert p50.value == pytest.approx(0.1)


def test_absent_alerts_when_nothing_reports(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    (missing,) = run(db, 'absent(up{job="api"}[10m]) == 1', now)
    assert missing.holds
    assert dict(missing.labels) == {"job": "api"}
    push(db, [("up", {"job": "api"}, 1.0)], now)
    assert run(db, 'absent(up{job="api"}[10m]) == 1', now) == []


def test_check_functions_give_one_series_per_check(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    results = [
        check_result("api", now - n * timedelta(seconds=30), seconds=0.1 * n) for n in range(1, 10)
    ]
    results.append(check_result("api", now - timedelta(seconds=5), ok=False, seconds=5.0))
    record_checks(db, results, now)
    (ratio,) = run(db, 'error_ratio("api", 5m) > 5%', now)
    assert dict(ratio.labels) == {"check": "api", "team": "web"}
    assert ratio.value == pytest.approx(1 / 10)
    (slow,) = run(db, 'latency_p99({team="web"}, 5m) > 2s', now)
    assert slow.value == pytest.approx(5.0)
    (streak,) = run(db, 'consecutive_failures("api") >= 1', now)
    assert streak.value == 1.0
    assert run(db, 'error_ratio({team="nobody"}, 5m) > 0', now) == []
