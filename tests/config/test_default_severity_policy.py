"""The severity policy defaults to DESIGN.md's table; YAML overrides only what it names."""

from datetime import timedelta
from textwrap import dedent

import pytest

from opsbook.config import (
    SEVERITIES,
    ConfigError,
    Target,
    default_severity_policy,
    load_config_text,
)
from opsbook.config.defaults import RESPONSE_CHECKLIST

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
WITH_INCIDENTS_CHANNEL = """\
service: {name: Shop}
channels:
  - {name: incidents, kind: console}
"""


def targets(*texts: str) -> tuple[Target, ...]:
    return tuple(Target.parse(text) for text in texts)


def test_defaults_follow_the_design_table() -> None:
    policy = load_config_text(WITH_INCIDENTS_CHANNEL).severities
    timings = {
        severity: (level.respond_within, level.ack_within, level.escalate_after)
        for severity, level in policy.items()
    }
    assert timings == {
        "P0": (15 * MINUTE, 5 * MINUTE, timedelta(0)),
        "P1": (30 * MINUTE, None, HOUR),
        "P2": (2 * HOUR, None, 4 * HOUR),
        "P3": (24 * HOUR, None, 48 * HOUR),
    }
    assert policy["P0"].notify == targets(
        "oncall:primary", "oncall:secondary", "channel:incidents", "status_page", "stakeholders"
    )
    assert policy["P1"].notify == targets("oncall:primary", "channel:incidents", "status_page")
    assert policy["P2"].notify == targets("oncall:secondary", "channel:incidents")
    assert policy["P3"].notify == ()
    assert policy["P0"].checklist == RESPONSE_CHECKLIST
    assert "Write postmortem" not in policy["P2"].checklist


def test_levels_are_walked_in_order_p0_to_p3() -> None:
    assert [severity for severity, _ in default_severity_policy().items()] == list(SEVERITIES)


def test_a_level_in_yaml_overrides_only_the_fields_it_names() -> None:
    config = load_config_text(
        WITH_INCIDENTS_CHANNEL
        + dedent(
            """\
            severities:
              P1:
                escalate_after: 45m
                notify: [oncall:primary]
            """
        )
    )
    p1 = config.severities["P1"]
    assert (p1.escalate_after, p1.notify) == (45 * MINUTE, targets("oncall:primary"))
    assert p1.respond_within == 30 * MINUTE
    assert p1.meaning.startswith("Partial outage")
    assert config.severities["P0"] == default_severity_policy()["P0"]
    assert config.severities["P2"] == default_severity_policy()["P2"]


def test_ack_within_can_be_cleared_with_null() -> None:
    config = load_config_text(WITH_INCIDENTS_CHANNEL + "severities:\n  P0: {ack_within: null}\n")
    assert config.severities["P0"].ack_within is None


def test_default_incidents_channel_is_left_out_when_no_such_channel_exists() -> None:
    policy = load_config_text("service: {name: Shop}\n").severities
    assert policy["P1"].notify == targets("oncall:primary", "status_page")
    assert policy["P2"].notify == targets("oncall:secondary")


def test_a_channel_the_user_names_must_exist() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(
            "service: {name: Shop}\nseverities:\n  P2:\n    notify: [channel:incidents]\n"
        )
    (issue,) = caught.value.issues
    assert (issue.line, issue.column, issue.path) == (4, 14, "severities.P2.notify[0]")
    assert issue.message == 'no channel "incidents" is defined'


def test_ack_within_longer_than_respond_within_is_located_at_ack_within() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("service: {name: Shop}\nseverities:\n  P1: {ack_within: 2h}\n")
    assert [str(i) for i in caught.value.issues] == [
        "<string>:3:20: severities.P1.ack_within: must not be longer than respond_within"
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("oncall:tertiary", "expected a target like oncall:primary"),
        ("pager", "expected a target like oncall:primary"),
        ("person:Ann", "expected a target like oncall:primary"),
        ("team:platfrom", 'no team "platfrom" is defined, did you mean "platform"?'),
        ("person:bob", 'no person "bob" is defined, did you mean "bo"?'),
    ],
)
def test_targets_follow_the_grammar_and_must_resolve(target: str, message: str) -> None:
    text = dedent(
        f"""\
        service: {{name: Shop}}
        people: [{{id: bo, name: Bo, email: bo@example.com}}]
        teams: [{{name: platform, members: [bo]}}]
        severities:
          P3:
            escalate_to: ["{target}"]
        """
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    (issue,) = caught.value.issues
    assert issue.path == "severities.P3.escalate_to[0]"
    assert issue.message.startswith(message)


def test_target_text_round_trips() -> None:
    for text in ("oncall:primary", "channel:ops", "person:ann", "team:sre", "status_page"):
        assert str(Target.parse(text)) == text
