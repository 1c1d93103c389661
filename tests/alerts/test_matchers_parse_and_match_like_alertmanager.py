"""Alertmanager's matcher syntax and semantics: =, !=, =~, !~, quoting, missing labels."""

from __future__ import annotations

import pytest

from opsbook.alerts.matchers import Matcher, MatcherError, parse_matcher, parse_matchers

LABELS = {"alertname": "HighLatency", "service": "api-2", "team": ""}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ('alertname="HighLatency"', True),
        ("alertname=HighLatency", True),
        ('alertname!="HighLatency"', False),
        ('service=~"api-.*"', True),
        ('service=~"api"', False),  # anchored: the whole value must match
        ('service!~"web|db"', True),
        ('service!~"api-2|db"', False),
        ('missing=""', True),  # a missing label has the value ""
        ('missing!=""', False),
        ('team=""', True),
        ('missing=~".*"', True),
        ('missing=~".+"', False),
        ('region="eu"', False),
    ],
)
def test_matcher_semantics(text: str, matches: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is matches


def test_braced_lists_with_commas_inside_quotes() -> None:
    matchers = parse_matchers('{alertname="Disk, full", service=~"a|b",team!=db}')
    assert [str(m) for m in matchers] == [
        'alertname="Disk, full"',
        'service=~"a|b"',
        'team!="db"',
    ]


def test_escaped_quotes_round_trip() -> None:
    matcher = parse_matcher(r'summary="say \"hi\""')
    assert matcher.value == 'say "hi"'
    assert str(matcher) == r'summary="say \"hi\""'


def test_api_form_round_trips() -> None:
    for text in ('a="1"', 'a!="1"', 'a=~"1|2"', 'a!~"x.*"'):
        matcher = parse_matcher(text)
        assert Matcher.from_api(matcher.to_api()) == matcher
    assert parse_matcher('a!~"x"').to_api() == {
        "name": "a",
        "value": "x",
        "isRegex": True,
        "isEqual": False,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("severity", "expected a matcher"),
        ('1abc="x"', "expected a matcher"),
        ('a=~"("', "invalid regular expression"),
        ('a="unclosed', "unbalanced quotes"),
        ('{a="1"', "unbalanced braces"),
    ],
)
def test_bad_matchers_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        parse_matchers(text)
