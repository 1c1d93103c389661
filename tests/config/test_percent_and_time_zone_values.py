"""Percentages are written 5% and held as fractions; time zones are IANA names."""

from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from opsbook.config import ConfigModel, Percent, TimeZoneName


class Threshold(ConfigModel):
    share: Percent


class Place(ConfigModel):
    zone: TimeZoneName


@pytest.mark.parametrize(
    ("text", "fraction"),
    [("5%", 0.05), ("99.9%", 0.999), ("0%", 0.0), ("100%", 1.0), (" 12.5 %", 0.125)],
)
def test_percent_is_held_as_a_fraction(text: str, fraction: float) -> None:
    assert Threshold.model_validate({"share": text}).share == fraction


@pytest.mark.parametrize("given", ["5", "101%", "-1%", "abc%", "%", "nan%", 5, 0.05])
def test_percent_rejects_missing_sign_and_values_out_of_range(given: object) -> None:
    with pytest.raises(ValidationError, match="expected a percentage from 0% to 100% like 5%"):
        Threshold.model_validate({"share": given})


@pytest.mark.parametrize("text", ["5%", "99.9%", "0.1%", "100%"])
def test_percent_dumps_back_to_the_written_form(text: str) -> None:
    assert Threshold.model_validate({"share": text}).model_dump(mode="json") == {"share": text}


def test_time_zone_is_held_as_zoneinfo_and_dumped_as_its_name() -> None:
    place = Place.model_validate({"zone": "Europe/Berlin"})
    assert place.zone == ZoneInfo("Europe/Berlin")
    assert place.model_dump(mode="json") == {"zone": "Europe/Berlin"}


@pytest.mark.parametrize("given", ["Mars/Olympus", "CEST+2", "../etc/passwd", "", 1])
def test_unknown_time_zones_are_rejected_naming_the_value(given: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Place.model_validate({"zone": given})
    message = caught.value.errors()[0]["msg"]
    assert message.startswith("expected an IANA time zone name like Europe/Berlin or UTC, got ")
    assert str(given) in message
