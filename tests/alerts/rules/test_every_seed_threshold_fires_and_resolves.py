"""Every alert threshold the seeds name, from examples/alert-rules.yaml, under a fake clock.

Each rule runs alone through the real evaluation jobs on both engines: data that crosses
the threshold makes it fire (after its ``for``), data back below resolves it, and what the
alert pipeline receives carries the rule's labels and rendered annotations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rules_support import (
    Counter,
    RecordingSink,
    RuleLoop,
    check_result,
    push,
    record_checks,
)

from opsbook.config import OpsbookConfig, load_config
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "alert-rules.yaml"
MINUTE = timedelta(minutes=1)


def only(rule: str) -> OpsbookConfig:
    config = load_config(EXAMPLE, env={})
    found = config.find_rule(rule)
    assert found is not None
    return config.model_copy(update={"rules": (found,)})


@pytest.fixture
def sink(db: Database) -> RecordingSink:
    return RecordingSink(db)


def loop_for(rule: str, db: Database, clock: FakeClock, sink: RecordingSink) -> RuleLoop:
    return RuleLoop(db, clock, only(rule), sink)


def firing(sink: RecordingSink, rule: str) -> list[datetime]:
    return [a.at for a in sink.received(rule) if not a.resolved]


def resolved(sink: RecordingSink, rule: str) -> list[datetime]:
    return [a.at for a in sink.received(rule) if a.resolved]


def both(*feeds: Callable[[datetime], None]) -> Callable[[datetime], None]:
    def feed(now: datetime) -> None:
        for each in feeds:
            each(now)

    return feed


def test_error_rate_above_5_percent_for_5_minutes(
    db: Database, clock: FakeClock, sink: RecordingSink
) -> None:
    loop = loop_for("HighErrorRate", db, clock, sink)
    ok = Counter(db, "http_requests_total", {"job": "app", "code": "200"}, 990)
    errors = Counter(db, "http_requests_total", {"job": "app", "code": "500"}, 10)
    loop.run_for(10 * MINUTE, both(ok, errors))  # 1%: quiet
    assert sink.received() == []
    errors.per_minute, ok.per_minute = 100, 900  # 10% from now on
    started = clock.now()
    loop.run_for(6 * MINUTE, both(ok, errors))
    assert firing(sink, "HighErrorRate") == [], "pending: not yet 5 minutes above 5%"
    loop.run_for(6 * MINUTE, both(ok, errors))
    fired = firing(sink, "HighErrorRate")
    assert fired, "fires once the rate has been above 5% for 5 minutes"
    assert started + 5 * MINUTE <= fired[0] <= started + 10 * MINUTE
    alert = sink.received("HighErrorRate")[0]
    assert alert.labels == {"alertname": "HighErrorRate", "severity": "P1"}
    assert re.fullmatch(r"\d+(\.\d+)?% of requests fail", alert.annotations["summary"])
    assert alert.source == "rule"
    assert alert.ends_at == alert.at + 4 * MINUTE, "valid 4 x max(resend_every, every)"
    errors.per_minute, ok.per_minute = 10, 990
    recovered = clock.now()
    loop.run_for(10 * MINUTE, both(ok, errors))
    ends = resolved(sink, "HighErrorRate")
    assert len(ends) == 1
    assert recovered < ends[0] <= recovered + 6 * MINUTE
    last = sink.received("HighErrorRate")[-1]
    assert last.ends_at == ends[0], "a resolved alert ends at its resolution"
    assert last.starts_at == alert.starts_at


def test_errors_above_10_a_minute(db: Database, clock: FakeClock, sink: RecordingSink) -> None:
    loop = loop_for("ErrorsPerMinute", db, clock, sink)
    errors = Counter(db, "app_errors_total", {"job": "app"}, 3)
    loop.run_for(8 * MINUTE, errors)
    assert sink.received() == []
    errors.per_minute = 30
    loop.run_for(8 * MINUTE, errors)
    assert firing(sink, "ErrorsPerMinute")
    summary = sink.received("ErrorsPerMinute")[0].annotations["summary"]
    assert re.fullmatch(r"\d+\.\d errors a minute", summary)
    assert float(summary.split()[0]) > 10
    errors.per_minute = 3
    loop.run_for(8 * MINUTE, errors)
    assert len(resolved(sink, "ErrorsPerMinute")) == 1


def test_p95_latency_above_2_seconds(db: Database, clock: FakeClock, sink: RecordingSink) -> None:
    loop = loop_for("SlowResponses", db, clock, sink)
    latency = {"seconds": 0.4}

    def probe(now: datetime) -> None:
        record_checks(
            db,
            [
                check_result("api-health", now - timedelta(seconds=30), seconds=latency["seconds"]),
                check_result("api-health", now, seconds=latency["seconds"]),
            ],
            now,
        )

    loop.run_for(6 * MINUTE, probe)
    assert sink.received() == []
    latency["seconds"] = 3.2
    loop.run_for(12 * MINUTE, probe)
    alert = sink.received("SlowResponses")[0]
    assert alert.labels == {
        "alertname": "SlowResponses",
        "check": "api-health",
        "team": "backend",
        "severity": "P2",
    }
    assert alert.annotations["summary"] == "p95 of api-health is 3.2s"
    latency["seconds"] = 0.4
    loop.run_for(8 * MINUTE, probe)
    assert len(resolved(sink, "SlowResponses")) == 1


def test_more_than_10_failed_logins_in_5_minutes(
    db: Database, clock: FakeClock, sink: RecordingSink
) -> None:
    loop = loop_for("FailedLogins", db, clock, sink)
    logins = Counter(db, "auth_failed_logins_total", {"job": "app"}, 1)
    loop.run_for(8 * MINUTE, logins)
    assert sink.received() == []
    logins.per_minute = 40  # a burst: for is 0s, so it fires at the next evaluation
    burst = clock.now()
    loop.run_for(MINUTE, logins)
    fired = firing(sink, "FailedLogins")
    assert fired == [burst + MINUTE]
    assert sink.received("FailedLogins")[0].labels["team"] == "security"
    logins.per_minute = 1
    loop.run_for(7 * MINUTE, logins)
    assert len(resolved(sink, "FailedLogins")) == 1


def test_token_usage_above_90_percent_of_the_limit_per_provider(
    db: Database, clock: FakeClock, sink: RecordingSink
) -> None:
    loop = loop_for("TokenUsageHigh", db, clock, sink)
    used = {"openai": 500_000.0, "anthropic": 200_000.0}

    def gauges(now: datetime) -> None:
        push(
            db,
            [
                (name, {"provider": provider}, value)
                for provider in used
                for name, value in (
                    ("llm_tokens_used", used[provider]),
                    ("llm_tokens_limit", 1_000_000.0),
                )
            ],
            now,
        )

    loop.run_for(3 * MINUTE, gauges)
    assert sink.received() == []
    used["openai"] = 950_000
    loop.run_for(2 * MINUTE, gauges)
    alerts = sink.received("TokenUsageHigh")
    assert {a.labels["provider"] for a in alerts} == {"openai"}, "one alert per provider"
    assert alerts[0].annotations["summary"] == "openai token usage at 95%"
    used["openai"] = 100_000
    loop.run_for(2 * MINUTE, gauges)
    assert len(resolved(sink, "TokenUsageHigh")) == 1


def test_disk_above_80_percent_per_mount(
    db: Database, clock: FakeClock, sink: RecordingSink
) -> None:
    loop = loop_for("DiskUsageHigh", db, clock, sink)
    avail = {"/": 50e9, "/run": 0.0}

    def node(now: datetime) -> None:
        samples = []
        for mount, fstype in (("/", "ext4"), ("/run", "tmpfs")):
            labels = {"instance": "db1:9100", "mountpoint": mount, "fstype": fstype}
            samples += [
                ("node_filesystem_avail_bytes", labels, avail[mount]),
                ("node_filesystem_size_bytes", labels, 100e9),
            ]
        push(db, samples, now)

    loop.run_for(6 * MINUTE, node)
    assert sink.received() == [], "a full tmpfs is filtered out by the matcher"
    avail["/"] = 8e9
    loop.run_for(7 * MINUTE, node)
    alert = sink.received("DiskUsageHigh")[0]
    assert alert.labels["mountpoint"] == "/"
    assert alert.annotations["summary"] == "/ on db1:9100 is 92% full"
    avail["/"] = 50e9
    loop.run_for(2 * MINUTE, node)
    assert len(resolved(sink, "DiskUsageHigh")) == 1


def test_memory_above_85_percent(db: Database, clock: FakeClock, sink: RecordingSink) -> None:
    loop = loop_for("MemoryUsageHigh", db, clock, sink)
    available = {"bytes": 1.2e9}

    def node(now: datetime) -> None:
        labels = {"instance": "app1:9100"}
        push(
            db,
            [
                ("node_memory_MemAvailable_bytes", labels, available["bytes"]),
                ("node_memory_MemTotal_bytes", labels, 4e9),
            ],
            now,
        )

    loop.run_for(6 * MINUTE, node)
    assert sink.received() == []
    available["bytes"] = 0.4e9
    loop.run_for(4 * MINUTE, node)
    assert firing(sink, "MemoryUsageHigh") == [], "pending for 5 minutes first"
    loop.run_for(3 * MINUTE, node)
    assert firing(sink, "MemoryUsageHigh")
    available["bytes"] = 2e9
    loop.run_for(2 * MINUTE, node)
    assert len(resolved(sink, "MemoryUsageHigh")) == 1


def test_connection_pool_exhausted_keeps_firing_through_a_short_dip(
    db: Database, clock: FakeClock, sink: RecordingSink
) -> None:
    loop = loop_for("DatabasePoolExhausted", db, clock, sink)
    in_use = {"value": 12.0}

    def pool(now: datetime) -> None:
        labels = {"pool": "primary"}
        push(
            db,
            [
                ("db_pool_connections_in_use", labels, in_use["value"]),
                ("db_pool_connections_max", labels, 20.0),
            ],
            now,
        )

    loop.run_for(3 * MINUTE, pool)
    assert sink.received() == []
    in_use["value"] = 20
    loop.run_for(3 * MINUTE, pool)
    assert firing(sink, "DatabasePoolExhausted")
    assert sink.received("DatabasePoolExhausted")[0].annotations["summary"] == (
        "primary: all 20 connections in use"
    )
    in_use["value"] = 19
    loop.run_for(MINUTE, pool)
    assert resolved(sink, "DatabasePoolExhausted") == [], "keep_firing_for: 2m"
    dip = clock.now()
    loop.run_for(3 * MINUTE, pool)
    ends = resolved(sink, "DatabasePoolExhausted")
    assert ends == [dip + MINUTE], "resolved 2 minutes after it last held"


def test_uptime_below_99_9_percent_over_30_days(
    db: Database, clock: FakeClock, sink: RecordingSink
) -> None:
    loop = loop_for("UptimeBelowTarget", db, clock, sink)
    start = clock.now()
    history = [check_result("api-health", start - n * MINUTE) for n in range(1, 601)]
    record_checks(db, history, start)
    loop.run_for(10 * MINUTE)
    assert sink.received() == [], "600 good minutes: 100%"
    record_checks(db, [check_result("api-health", clock.now(), ok=False)], clock.now())
    loop.run_for(5 * MINUTE)
    alert = sink.received("UptimeBelowTarget")[0]
    assert alert.annotations["summary"] == "api-health uptime is 99.83% over 30 days"
    # A thousand good minutes later, one down minute is under 0.1% again.
    later = clock.now() + 1000 * MINUTE
    record_checks(db, [check_result("api-health", later - n * MINUTE) for n in range(1000)], later)
    clock.set(later)
    loop.runner.run_until_idle()
    loop.run_for(5 * MINUTE)
    assert len(resolved(sink, "UptimeBelowTarget")) == 1
