"""People: ids are lowercase names, phones international, roles from a fixed set."""

from zoneinfo import ZoneInfo

import pytest

from opsbook.config import ConfigError, load_config_text


def person(fields: str) -> str:
    return f"service: {{name: Shop, timezone: Europe/Berlin}}\npeople:\n  - {{{fields}}}\n"


def test_a_person_with_every_field() -> None:
    config = load_config_text(
        person(
            "id: ann.k, name: Ann, email: ann@example.com, timezone: Asia/Tokyo, role: admin,"
            ' slack: "@ann", phone: "+1 (415) 555-0123"'
        )
    )
    ann = config.people[0]
    assert (ann.id, ann.role, ann.slack) == ("ann.k", "admin", "@ann")
    assert ann.timezone == ZoneInfo("Asia/Tokyo")
    assert ann.phone == "+14155550123"


def test_optional_fields_default_to_none_and_responder() -> None:
    ann = load_config_text(person("id: ann, name: Ann, email: ann@example.com")).people[0]
    assert (ann.timezone, ann.role, ann.slack, ann.phone) == (None, "responder", None, None)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("id: Ann", 'expected a lowercase name of letters, digits, ".", "_" or "-"'),
        ("id: -ann", 'expected a lowercase name of letters, digits, ".", "_" or "-"'),
        ("email: ann.example.com", "expected an email address like ann@example.com"),
        ("phone: '4155550123'", "expected an international phone number like +14155550123"),
        ("role: owner", 'expected "viewer", "responder" or "admin", got "owner"'),
        ("name: '  '", 'expected a non-empty string, got "  "'),
    ],
)
def test_bad_person_fields_say_what_was_expected(field: str, message: str) -> None:
    fields = {"id": "ann", "name": "Ann", "email": "ann@example.com"}
    key, _, value = field.partition(": ")
    fields[key] = value
    text = person(", ".join(f"{k}: {v}" for k, v in fields.items()))
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    (issue,) = caught.value.issues
    assert issue.path == f"people[0].{key}"
    assert issue.message.startswith(message)
