"""The rule expression language: what it accepts, and where a mistake is reported."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from opsbook.alerts.rules.ast import (
    Aggregate,
    Binary,
    CheckFunction,
    HistogramQuantile,
    Number,
    OverTime,
    Selector,
)
from opsbook.alerts.rules.expression import Expression
from opsbook.config import ConfigError, load_config


@pytest.mark.parametrize(
    "text",
    [
        'sum(rate(http_errors_total{job="api", code=~"5.."}[5m])) / sum(rate(requests[5m])) > 5%',
        "sum by (job) (increase(auth_failed_logins_total[5m])) > 10",
        "sum(increase(auth_failed_logins_total[5m])) by (job) > 10",
        "llm_tokens_used / on(provider) llm_tokens_limit > 90%",
        "1 - a / ignoring(kind) b >= 0.8",
        'availability("api-health", 30d) < 99.9%',
        'error_ratio({team="payments"}, 10m) > 1%',
        'latency_p95("api", 5m) > 2s',
        'consecutive_failures("api") >= 3',
        "quantile(0.95, request_seconds[5m]) > 2",
        "quantile by (job) (0.9, up) < 1",
        "histogram_quantile(0.95, sum by (le) (rate(http_duration_seconds_bucket[5m]))) > 2",
        'absent(up{job="api"}[10m]) == 1',
        "max(cpu[10m]) - min(cpu[10m]) > -1e3",
        "-x < 0",
    ],
)
def test_these_expressions_parse(text: str) -> None:
    assert str(Expression.parse(text)) == text


def test_the_tree_says_what_was_written() -> None:
    tree = Expression.parse(
        'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / 60 > 10'
    ).tree
    assert isinstance(tree, Binary)
    assert tree.op == ">"
    assert tree.right == Number(10.0, "10")
    assert isinstance(tree.left, Binary)
    aggregate = tree.left.left
    assert isinstance(aggregate, Aggregate)
    assert aggregate.labels == ("job",)
    assert isinstance(aggregate.expr, OverTime)
    assert aggregate.expr.function == "rate"
    assert aggregate.expr.window == timedelta(minutes=5)
    selector = aggregate.expr.selector
    assert isinstance(selector, Selector)
    assert selector.metric == "http_requests_total"
    (matcher,) = selector.matchers
    assert matcher.matches({"code": "503"})
    assert not matcher.matches({"code": "1503"}), "regexes are anchored"


def test_literals_are_numbers_percentages_and_durations() -> None:
    for text, value in (("x > 5%", 0.05), ("x > 2s", 2.0), ("x > 1m30s", 90.0), ("x > 1e3", 1e3)):
        tree = Expression.parse(text).tree
        assert isinstance(tree, Binary)
        assert isinstance(tree.right, Number)
        assert tree.right.value == pytest.approx(value)
    tree = Expression.parse("x > 2 * 50%").tree
    assert isinstance(tree, Binary)
    assert tree.right == Number(1.0, "2 * 50%"), "constant arithmetic is folded"


def test_check_functions_name_their_checks() -> None:
    expression = Expression.parse('availability("api", 30d) < 99.9% ')
    assert expression.check_names() == ["api"]
    tree = expression.tree
    assert isinstance(tree, Binary)
    assert isinstance(tree.left, CheckFunction)
    assert tree.left.window == timedelta(days=30)
    assert isinstance(
        Expression.parse("histogram_quantile(0.5, x_bucket) > 1").tree.left,  # type: ignore[union-attr]
        HistogramQuantile,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rate(x) > 1", "at column 6: rate needs a range like rate(http_requests_total[5m])"),
        ("x{job=api} > 1", 'at column 7: expected a label value in quotes, got "api"'),
        ('x{code=~"(5"} > 1', "at column 9: invalid regular expression"),
        ("sum(x) by (job > 1", 'expected "," or ")", got ">"'),
        ("x > 1 and y > 2", "'and': write two rules"),
        ("x = 1", 'write "==" to compare'),
        ("sum(x)", "must end in a comparison"),
        ("1 > 0", "needs series on one side"),
        ('availability("api") < 1', 'expected "," and a window'),
        ("quantile(1.5, x[5m]) > 1", "a quantile from 0 to 1"),
        ("max by (job) (x[5m]) > 1", "by/without group series across labels"),
        ("x[5m] > 1 +", "expected a number, a metric, a function or (, got the end"),
        ('{job="a"} > 1', "a metric selector needs a metric name"),
        ("x > 1 offset 5m", "offset is not supported"),
        ("x @ 1", "unexpected '@'"),
    ],
)
def test_mistakes_say_where_and_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid expression") as raised:
        Expression.parse(text)
    assert message in str(raised.value)


def test_config_errors_point_at_the_rule_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.yaml"
    path.write_text(
        "service: {name: Test}\n"
        "checks:\n"
        "  - {name: api, http: {url: 'http://127.0.0.1:1/'}}\n"
        "rules:\n"
        "  - name: Broken\n"
        "    expr: 'rate(x{job=\"a\"}) > 1'\n"
        "  - name: Unknown\n"
        '    expr: availability("apo", 5m) < 99%\n'
        "  - name: Templated\n"
        "    expr: x > 1\n"
        "    annotations: {summary: '{{ $vlue }}'}\n"
        "  - name: Broken\n"
        "    source: nowhere\n"
        "    query: up == 0\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    lines = str(raised.value).splitlines()
    assert lines[0].startswith(f"{path}:6:11: rules[0].expr: invalid expression")
    assert "at column 6: rate needs a range" in lines[0]
    assert lines[1] == f'{path}:8:11: rules[1].expr: no check "apo" is defined'
    assert lines[2].startswith(f"{path}:11:28: rules[2].annotations.summary: invalid template")
    assert f'{path}:12:11: rules[3].name: rule "Broken" is already defined' in lines[3]
    assert lines[4].startswith(f'{path}:13:13: rules[3].source: no Prometheus source "nowhere"')


def test_a_rule_needs_an_expression_or_a_query(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.yaml"
    path.write_text(
        "service: {name: Test}\n"
        "rules:\n"
        "  - name: Nothing\n"
        "  - {name: Both, expr: x > 1, source: p, query: up}\n"
        "  - {name: bad name!, expr: x > 1}\n"
        "  - {name: Reserved, expr: x > 1, labels: {alertname: x}}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    text = str(raised.value)
    assert 'a rule needs "expr", or "source" and "query"' in text
    assert 'give either "expr" or "source" with "query", not both' in text
    assert "expected a rule name" in text
    assert '"alertname" is set by the rule itself' in text


def test_quantile_windows_must_fit_in_raw_retention(tmp_path: Path) -> None:
    path = tmp_path / "opsbook.yaml"
    path.write_text(
        "service: {name: Test}\n"
        "metrics: {keep_raw: 6h}\n"
        "rules:\n"
        "  - {name: Slow, expr: 'quantile(0.99, x[1d]) > 1'}\n"
    )
    with pytest.raises(ConfigError, match=r"window must not be longer than metrics\.keep_raw"):
        load_config(path)
