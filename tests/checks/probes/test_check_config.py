"""checks[] in opsbook.yaml: one kind per check, sane schedules, names and references."""

from __future__ import annotations

from datetime import timedelta

import pytest

from opsbook.checks.config import CheckConfig
from opsbook.checks.runner import compile_check, compile_checks, is_probe_check
from opsbook.config import ConfigError, load_config_text

HEAD = """\
service: {name: Shop}
components: [{name: API}]
"""


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(HEAD + text, filename="opsbook.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_defaults_and_round_trip() -> None:
    config = load_config_text(
        HEAD
        + """\
checks:
  - name: api-health
    http: {url: "https://api.example.com/healthz", regex: "ok|fine"}
    conditions: ['body.status == "ok"', "response_time < 2s"]
    component: API
    labels: {team: platform}
  - name: nightly-backup
    heartbeat: {key: "0123456789abcdef", period: 1d}
settings:
  checks: {canary: api-health, concurrency: 50}
"""
    )
    check = config.checks[0]
    assert (check.kind, check.every, check.timeout) == (
        "http",
        timedelta(seconds=30),
        timedelta(seconds=10),
    )
    assert (check.fail_after, check.recover_after) == (1, 1)
    assert config.settings.checks.keep_raw == timedelta(days=7)
    assert config.settings.checks.canary == "api-health"
    dumped = config.model_dump(mode="json", by_alias=True, exclude_none=True)["checks"][0]
    assert dumped["conditions"] == ['body.status == "ok"', "response_time < 2s"]
    assert dumped["http"]["regex"] == "ok|fine"
    assert CheckConfig.model_validate(dumped) == check
    assert config.find_check("nightly-backup") is config.checks[1]


def test_zero_or_two_kinds_are_errors_at_the_check() -> None:
    kinds = "http, tcp, tls, dns, postgres, command or heartbeat"
    assert issues(
        """\
checks:
  - name: nothing
    every: 1m
  - name: both
    tcp: {host: db, port: 5432}
    tls: {host: db}
"""
    ) == [
        f"opsbook.yaml:4:5: checks[0]: a check needs exactly one kind key: {kinds} (got none)",
        f"opsbook.yaml:6:5: checks[1]: a check needs exactly one kind key: {kinds} "
        "(got tcp and tls)",
    ]


def test_names_schedules_and_references_are_checked() -> None:
    assert issues(
        """\
checks:
  - name: db
    tcp: {host: db, port: 5432}
    timeout: 30s
    component: Database
  - name: db
    tcp: {host: db, prot: 5432}
settings:
  checks: {canary: internet}
"""
    ) == [
        "opsbook.yaml:6:14: checks[0].timeout: must be longer than 0s and shorter than every",
        'opsbook.yaml:7:16: checks[0].component: no component "Database" is defined '
        '(defined: "API")',
        'opsbook.yaml:8:11: checks[1].name: check "db" is already defined at checks[0]',
        'opsbook.yaml:9:5: checks[1].tcp.port: missing required key "port"',
        'opsbook.yaml:9:21: checks[1].tcp.prot: unknown key "prot", did you mean "port"?',
        'opsbook.yaml:11:20: settings.checks.canary: no check "internet" is defined '
        '(defined: "db")',
    ]


def test_kind_options_are_validated_at_load() -> None:
    found = issues(
        """\
checks:
  - name: web
    http: {url: "https://x.example", regex: "(", expect_status: [700]}
  - name: cmd
    command: {run: []}
  - name: ns
    dns: {name: example.com, type: SRV, server: "10.0.0.1:99999"}
"""
    )
    assert any("checks[0].http.regex: invalid regular expression" in i for i in found)
    assert any("checks[0].http.expect_status: 700 is not an HTTP status code" in i for i in found)
    assert any("checks[1].command.run: expected a command" in i for i in found)
    assert any('checks[2].dns.type: expected "A", "AAAA"' in i for i in found)
    assert any("checks[2].dns.server: port 99999 is out of range" in i for i in found)


def test_heartbeat_checks_are_not_compiled_into_probes() -> None:
    assert issues(
        """\
checks:
  - name: backup
    heartbeat: {key: "0123456789abcdef", cron: "0 3 * * *"}
settings:
  checks: {canary: backup}
"""
    ) == [
        'opsbook.yaml:7:20: settings.checks.canary: the canary "backup" must probe, '
        "not be a heartbeat"
    ]
    beat = CheckConfig.model_validate(
        {"name": "backup", "heartbeat": {"key": "0123456789abcdef", "period": "1d"}}
    )
    tcp = CheckConfig.model_validate({"name": "db", "tcp": {"host": "db", "port": 5432}})
    assert not is_probe_check(beat)
    assert is_probe_check(tcp)
    with pytest.raises(ValueError, match='check "backup" is a heartbeat check'):
        compile_check(beat)
    assert [c.name for c in compile_checks([beat, tcp])] == ["db"]
    compiled = compile_check(tcp)
    assert (compiled.every, compiled.timeout, compiled.kind) == (
        timedelta(seconds=30),
        timedelta(seconds=10),
        "tcp",
    )
