"""examples/alert-rules.yaml holds every alert threshold the seeds name, and validates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from opsbook.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "alert-rules.yaml"
SEED_THRESHOLDS = {
    "HighErrorRate": "error rate > 5% for 5 min",
    "ErrorsPerMinute": "error rate > 10/min",
    "SlowResponses": "p95 > 2 s",
    "FailedLogins": "failed logins > 10 in 5 min",
    "TokenUsageHigh": "token usage > 90% of the limit",
    "DiskUsageHigh": "disk > 80%",
    "MemoryUsageHigh": "memory > 85%",
    "DatabasePoolExhausted": "connection pool exhausted",
    "UptimeBelowTarget": "uptime < 99.9%",
}


def test_the_example_validates_without_any_environment() -> None:
    config = load_config(EXAMPLE, env={})
    assert {rule.name for rule in config.rules} == set(SEED_THRESHOLDS)
    assert all(rule.severity is not None for rule in config.rules)
    assert all("summary" in rule.annotations for rule in config.rules)


def test_the_thresholds_are_the_seeds_own() -> None:
    rules = {rule.name: rule for rule in load_config(EXAMPLE, env={}).rules}
    assert str(rules["HighErrorRate"].expr).endswith("> 5%")
    assert rules["HighErrorRate"].for_ == timedelta(minutes=5)
    assert str(rules["ErrorsPerMinute"].expr).endswith("* 60 > 10")
    assert str(rules["SlowResponses"].expr) == 'latency_p95("api-health", 5m) > 2s'
    assert str(rules["FailedLogins"].expr) == "sum(increase(auth_failed_logins_total[5m])) > 10"
    assert str(rules["TokenUsageHigh"].expr).endswith("> 90%")
    assert str(rules["DiskUsageHigh"].expr).endswith("> 80%")
    assert str(rules["MemoryUsageHigh"].expr).endswith("> 85%")
    assert ">=" in str(rules["DatabasePoolExhausted"].expr)
    assert str(rules["UptimeBelowTarget"].expr) == 'availability("api-health", 30d) < 99.9%'
