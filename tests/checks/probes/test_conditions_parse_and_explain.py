"""Conditions parse once and explain every verdict with the value they saw."""

from __future__ import annotations

from typing import Any

import pytest

from opsbook.checks.conditions import Condition, quote

VALUES: dict[str, Any] = {
    "status": 200,
    "response_time": 2.31,
    "body": {"status": "degraded", "services": {"database": "healthy"}, "version": "1.4.2"},
    "body_text": '{"status": "degraded"}',
    "headers": {"x-frame-options": "DENY", "content-length": "120"},
    "result": {"rows": [{"count": 87}, {"count": None}], "row_count": 2},
    "tls": {"days_left": 30.5},
    "stdout": "42\n",
    "answers": ["10.0.0.7", "10.0.0.8"],
}


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("status == 200", True),
        ("status != 200", False),
        ("status in [200, 204]", True),
        ("status in [500]", False),
        ("response_time < 2s", False),
        ("response_time < 2500ms", True),
        ("response_time <= 1m", True),
        ('body.services.database == "healthy"', True),
        ("body.services.database == 'healthy'", True),
        ('body.version matches "^1\\.4\\."', True),
        ('body_text contains "degraded"', True),
        ('body.services contains "database"', True),
        ('answers contains "10.0.0.8"', True),
        ("result.rows[0].count < 90", True),
        ("result.rows[-1].count == null", True),
        ("tls.days_left > 14", True),
        ('headers["X-Frame-Options"] exists', True),
        ('headers["strict-transport-security"] not exists', True),
        ('headers["content-length"] > 100', True),  # header text compares as a number
        ("stdout == 42", True),
        ("not status == 500", True),
        ("status == 200 and (response_time < 1s or tls.days_left > 14)", True),
        ('status == 500 or body.status == "ok"', False),
        ("result.rows[0].count exists and not result.rows[1].count exists", True),
        ('status == "200"', False),  # a number is not the string
        ("body.status < 3", False),  # text that is no number does not compare
        ("body.missing == true", False),
    ],
)
def test_conditions_evaluate(text: str, ok: bool) -> None:
    verdict = Condition.parse(text).evaluate(VALUES)
    assert verdict.ok is ok, verdict.message
    assert verdict.expression == text


@pytest.mark.parametrize(
    ("text", "message", "observed"),
    [
        ('body.status == "ok"', 'expected body.status == "ok", got "degraded"', "degraded"),
        ('body.state == "ok"', 'expected body.state == "ok", got nothing (no such field)', None),
        ("response_time < 2s", "expected response_time < 2s, got 2.31s", 2.31),
        (
            "result.rows[5].count < 90",
            "expected result.rows[5].count < 90, got nothing (no such field)",
            None,
        ),
        (
            "status == 500 and response_time < 1s",
            "expected status == 500 and response_time < 1s, got status = 200, "
            "response_time = 2.31s",
            {"status": 200, "response_time": 2.31},
        ),
    ],
)
def test_a_failed_verdict_says_what_it_saw(text: str, message: str, observed: Any) -> None:
    verdict = Condition.parse(text).evaluate(VALUES)
    assert not verdict.ok
    assert verdict.message == message
    assert verdict.observed == observed


def test_nothing_observed_never_raises() -> None:
    for text in ("status < 2s", 'body matches "x"', "body.a.b[3] contains 1", "x in [1]"):
        assert not Condition.parse(text).evaluate({"body": [1], "status": None}).ok


def test_text_round_trips_and_quote_escapes() -> None:
    condition = Condition.parse('  body.status == "ok"  ')
    assert str(condition) == 'body.status == "ok"'
    assert condition == Condition.parse('body.status == "ok"')
    tricky = 'say "hi" \\ bye'
    assert Condition.parse(f"body_text == {quote(tricky)}").evaluate({"body_text": tricky}).ok
    assert Condition.parse('body_text matches "\\d+ ok"').evaluate({"body_text": "12 ok"}).ok
