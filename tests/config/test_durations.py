"""Durations are written 30s, 5m, 2h, 1d or combined (1h30m), and nothing else."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from opsbook.config import ConfigModel, Duration, format_duration, parse_duration


class Holder(ConfigModel):
    wait: Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("1m30s250ms", timedelta(minutes=1, seconds=30, milliseconds=250)),
    ],
)
def test_parse_duration_accepts_the_documented_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "5", "-5m", "5 minutes", "5M", "m", "1m1h", "1.5h", "PT5M", "5ms1s", "ms"]
)
def test_parse_duration_rejects_anything_else_with_the_expected_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"^expected a duration like 30s, 5m, 2h, 1d, got "):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(hours=48), "2d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(milliseconds=1500), "1s500ms"),
    ],
)
def test_format_duration_writes_the_shortest_yaml_form(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


@pytest.mark.parametrize("value", [timedelta(seconds=-1), timedelta(microseconds=1500)])
def test_format_duration_refuses_what_the_yaml_form_cannot_express(value: timedelta) -> None:
    with pytest.raises(ValueError, match="cannot write"):
        format_duration(value)


@pytest.mark.parametrize("given", [30, 1.5, True, None, "-1m"])
def test_a_model_rejects_bare_numbers_and_negative_durations(given: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Holder.model_validate({"wait": given})
    (error,) = caught.value.errors()
    assert error["type"] == "duration"
    assert error["msg"].startswith("expected a duration like 30s, 5m, 2h, 1d, got ")


def test_a_model_holds_a_timedelta_and_dumps_the_yaml_form() -> None:
    holder = Holder.model_validate({"wait": "1h30m"})
    assert holder.wait == timedelta(minutes=90)
    assert holder.model_dump(mode="json") == {"wait": "1h30m"}
    assert holder.model_dump() == {"wait": timedelta(minutes=90)}
    assert Holder.model_validate(holder.model_dump(mode="json")) == holder
