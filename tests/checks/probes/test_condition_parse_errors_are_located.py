"""An invalid condition is a config error at its place in the file, saying what was expected."""

from __future__ import annotations

import pytest

from opsbook.checks.conditions import Condition
from opsbook.config import ConfigError, load_config_text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the condition is empty"),
        ("   ", "the condition is empty"),
        ("status = 200", 'at column 8: "=" is not an operator, write "=="'),
        (
            "status 200",
            "at column 8: expected an operator (==, !=, <, <=, >, >=, contains, "
            'matches, in, exists), got "200"',
        ),
        (
            "status ==",
            "at column 10: expected a value: a number, a duration like 2s, a string "
            "in quotes, true, false or null, got the end",
        ),
        ('body.status == "ok', "at column 16: unexpected '\"'"),
        ("status in 200", 'at column 11: expected a list like [200, 204] after "in", got "200"'),
        ("status in [200, 204", 'at column 20: expected "," or "]", got the end'),
        ("(status == 200", 'at column 15: expected ")", got the end'),
        (
            "status == 200 status == 201",
            'at column 15: expected and, or, or the end of the condition, got "status"',
        ),
        (
            "== 200",
            "at column 1: expected a field like status, body.services.database or "
            'headers["x"], got "=="',
        ),
        ("body. == 1", 'at column 7: expected a field name after ".", got "=="'),
        (
            "rows[x] == 1",
            'at column 6: expected a list index like [0] or a key like ["name"], got "x"',
        ),
        (
            'body matches "(unclosed"',
            "at column 14: invalid regular expression: missing ), "
            "unterminated subpattern at position 0",
        ),
        (
            "status < true",
            'at column 10: expected a number, duration or string to compare with <, got "true"',
        ),
        ("status == 200 ~", "at column 15: unexpected '~'"),
    ],
)
def test_parse_errors_say_where_and_what(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="invalid condition") as caught:
        Condition.parse(text)
    text = text.strip()
    quoted = f"'{text}'" if '"' in text else f'"{text}"'
    assert str(caught.value) == f"invalid condition {quoted}: {message}"


def test_a_bad_condition_in_opsbook_yaml_is_reported_at_its_line_and_path() -> None:
    text = """\
service: {name: Shop}
checks:
  - name: home
    http: {url: "https://shop.example.com/"}
  - name: api
    http: {url: "https://api.example.com/healthz"}
    conditions:
      - 'body.status == "ok"'
      - response_time << 2s
      - 42
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, filename="opsbook.yaml")
    assert [str(issue) for issue in caught.value.issues] == [
        'opsbook.yaml:9:9: checks[1].conditions[1]: invalid condition "response_time << 2s": '
        "at column 16: expected a value: a number, a duration like 2s, a string in quotes, "
        'true, false or null, got "<"',
        "opsbook.yaml:10:9: checks[1].conditions[2]: expected a condition like "
        '"status == 200" in quotes, got 42',
    ]
