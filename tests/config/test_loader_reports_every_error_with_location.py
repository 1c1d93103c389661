"""Every mistake in a file is reported at once, at its line and column, with its path."""

from pathlib import Path
from textwrap import dedent

import pytest

from opsbook.config import ConfigError, ConfigIssue, load_config, load_config_text

FIXTURES = Path(__file__).parent / "fixtures"


def issues_of(text: str, **kwargs: object) -> list[tuple[int, int, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(dedent(text), filename="opsbook.yaml", **kwargs)  # type: ignore[arg-type]
    return [(i.line, i.column, i.path, i.message) for i in caught.value.issues]


def test_three_different_mistakes_are_all_reported_with_exact_locations() -> None:
    path = FIXTURES / "three_mistakes.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert [(i.line, i.column, i.path, i.message) for i in caught.value.issues] == [
        (7, 5, "channels[0].timout", 'unknown key "timout", did you mean "timeout"?'),
        (
            10,
            21,
            "severities.P1.respond_within",
            'expected a duration like 30s, 5m, 2h, 1d, got "5 minutes"',
        ),
        (11, 30, "severities.P1.notify[1]", 'no channel "pager" is defined (defined: "incidents")'),
    ]
    assert {i.file for i in caught.value.issues} == {str(path)}


def test_error_text_is_one_line_per_issue_in_file_line_column_path_message_form() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(FIXTURES / "three_mistakes.yaml")

    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert lines[0] == (
        f"{FIXTURES / 'three_mistakes.yaml'}:7:5: channels[0].timout: "
        'unknown key "timout", did you mean "timeout"?'
    )


def test_did_you_mean_follows_the_channel_kind_chosen_by_kind() -> None:
    issues = issues_of(
        """\
        service: {name: Shop}
        channels:
          - name: mail
            kind: email
            to: [ops@example.com]
            form: opsbook@example.com
            smtp: {host: smtp.example.com, prot: 25}
        """
    )
    assert (6, 5, "channels[0].form", 'unknown key "form", did you mean "from"?') in issues
    assert (7, 36, "channels[0].smtp.prot", 'unknown key "prot", did you mean "port"?') in issues


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    issues = issues_of("service: {name: Shop}\nsevereties: {}\nzzz: 1\n")
    assert issues[0][:3] == (2, 1, "severeties")
    assert issues[0][3] == 'unknown key "severeties", did you mean "severities"?'
    assert issues[1][3].startswith('unknown key "zzz" (expected one of: version, service,')


def test_missing_key_points_at_the_mapping_that_lacks_it() -> None:
    issues = issues_of(
        """\
        service:
          description: no name
        people:
          - id: ann
            email: ann@example.com
        """
    )
    assert issues == [
        (1, 1, "service.name", 'missing required key "name"'),
        (4, 5, "people[0].name", 'missing required key "name"'),
    ]


def test_empty_file_reports_that_service_is_required() -> None:
    assert issues_of("") == [(1, 1, "service", 'missing required key "service"')]
    assert issues_of("# only a comment\n") == [(1, 1, "service", 'missing required key "service"')]


def test_wrong_types_say_what_was_expected_and_what_was_given() -> None:
    issues = issues_of(
        """\
        version: 2
        service: {name: Shop, timezone: Mars/Olympus}
        people: {id: ann}
        settings:
          jobs: {max_attempts: many, lease: 0s}
        """
    )
    assert issues == [
        (1, 10, "version", "expected 1, got 2"),
        (
            2,
            33,
            "service.timezone",
            'expected an IANA time zone name like Europe/Berlin or UTC, got "Mars/Olympus"',
        ),
        (3, 9, "people", "expected a list, got a mapping"),
        (5, 24, "settings.jobs.max_attempts", 'expected a whole number, got "many"'),
    ]


def test_unknown_channel_kind_is_reported_at_kind_with_the_known_kinds() -> None:
    issues = issues_of("service: {name: Shop}\nchannels:\n  - {name: chat, kind: pager}\n")
    assert issues == [
        (
            3,
            24,
            "channels[0].kind",
            'unknown kind "pager", expected one of "console", "email", "webhook", "slack",'
            ' "teams", "telegram", "ntfy", "sms", "voice", "alertmanager-webhook"',
        )
    ]


def test_errors_inside_a_channel_leave_out_pydantics_union_tag_from_the_path() -> None:
    issues = issues_of(
        "service: {name: Shop}\nchannels:\n  - {name: hook, kind: webhook, url: ftp://x}\n"
    )
    assert issues == [
        (3, 38, "channels[0].url", 'expected an http:// or https:// URL, got "ftp://x"')
    ]


def test_duplicate_keys_are_reported_at_the_second_one() -> None:
    issues = issues_of("service:\n  name: Shop\n  name: Other\n")
    assert issues == [(3, 3, "service.name", 'duplicate key "name" (first written on line 2)')]


def test_yaml_syntax_errors_are_located() -> None:
    issues = issues_of("service:\n  name: [Shop\n")
    assert len(issues) == 1
    line, _column, path, message = issues[0]
    assert (line, path) == (3, "")
    assert message.startswith("invalid YAML: ")


def test_more_than_one_document_is_an_error() -> None:
    issues = issues_of("service: {name: Shop}\n---\nservice: {name: Other}\n")
    assert issues[0][0] == 2
    assert "another document" in issues[0][3]


def test_a_file_that_does_not_exist_is_a_single_issue(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert caught.value.issues == (ConfigIssue(str(missing), 0, 0, "", "file not found"),)
    assert str(caught.value) == f"{missing}: file not found"


def test_merge_keys_and_x_prefixed_anchors_are_allowed() -> None:
    config = load_config_text(
        dedent(
            """\
            x-smtp: &smtp {host: smtp.example.com, port: 25, security: none}
            service: {name: Shop}
            channels:
              - name: ops
                kind: email
                to: [ops@example.com]
                from: opsbook@example.com
                smtp: {<<: *smtp, port: 2525}
            """
        )
    )
    smtp = config.channels[0].smtp  # type: ignore[union-attr]
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.example.com", 2525, "none")


def test_errors_in_a_merged_value_point_at_where_it_is_written() -> None:
    issues = issues_of(
        """\
        x-smtp: &smtp {host: smtp.example.com, timeout: soon}
        service: {name: Shop}
        channels:
          - {name: ops, kind: email, to: [ops@example.com], from: o@example.com, smtp: *smtp}
        """
    )
    assert issues == [
        (1, 49, "channels[0].smtp.timeout", 'expected a duration like 30s, 5m, 2h, 1d, got "soon"')
    ]


def test_python_and_other_non_plain_tags_are_refused_not_ignored() -> None:
    assert issues_of("service: !!python/object:os.system {name: a}\n") == [
        (1, 10, "service", "unsupported YAML tag tag:yaml.org,2002:python/object:os.system")
    ]


def test_unreadable_characters_give_a_single_line_issue() -> None:
    issues = issues_of('service: {name: "a\x07"}\n')
    assert len(issues) == 1
    assert issues[0][3].startswith("invalid YAML: unacceptable character #x0007")
    assert "\n" not in issues[0][3]
