"""Names are unique within a section, and every reference names something that exists."""

from textwrap import dedent

import pytest
from pydantic import ValidationError

from opsbook.config import ConfigError, OpsbookConfig, load_config_text

CONFIG = """\
service: {name: Shop}
components:
  - name: API
  - name: API
people:
  - {id: ann, name: Ann, email: ann@example.com}
  - {id: ann, name: Ann Again, email: ann2@example.com}
  - {id: bob, name: Bob, email: bob@example.com}
teams:
  - name: sre
    members: [ann, bobby]
    lead: carol
channels:
  - {name: log, kind: console}
  - {name: log, kind: console}
"""


def test_duplicates_and_dangling_references_are_each_located() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(CONFIG)
    assert [(i.line, i.column, i.path, i.message) for i in caught.value.issues] == [
        (4, 11, "components[1].name", 'component "API" is already defined at components[0]'),
        (7, 10, "people[1].id", 'person id "ann" is already defined at people[0]'),
        (11, 20, "teams[0].members[1]", 'no person "bobby" is defined, did you mean "bob"?'),
        (12, 11, "teams[0].lead", 'no person "carol" is defined (defined: "ann", "bob")'),
        (15, 12, "channels[1].name", 'channel "log" is already defined at channels[0]'),
    ]


def test_references_are_checked_even_when_other_parts_do_not_validate() -> None:
    text = CONFIG.replace("service: {name: Shop}", "service: {name: Shop, url: nope}")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    paths = [issue.path for issue in caught.value.issues]
    assert paths[0] == "service.url"
    assert "teams[0].lead" in paths


def test_validating_in_python_enforces_references_too() -> None:
    data = {
        "service": {"name": "Shop"},
        "teams": [{"name": "sre", "members": ["ghost"]}],
    }
    with pytest.raises(ValidationError, match=r'teams\[0\].members\[0\]: no person "ghost"'):
        OpsbookConfig.model_validate(data)


def test_a_valid_configuration_can_be_queried_by_name() -> None:
    config = load_config_text(
        dedent(
            """\
            service: {name: Shop}
            people: [{id: ann, name: Ann, email: ann@example.com}]
            teams: [{name: sre, members: [ann], lead: ann}]
            channels: [{name: log, kind: console}]
            """
        )
    )
    assert config.find_person("ann") is config.people[0]
    assert config.find_team("sre") is config.teams[0]
    assert config.find_channel("log") is config.channels[0]
    assert config.find_channel("nope") is None
    assert config.people[0].role == "responder"
