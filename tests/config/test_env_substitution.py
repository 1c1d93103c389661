"""${VAR} and ${VAR:-default} in string values come from the environment."""

from textwrap import dedent

import pytest

from opsbook.config import ConfigError, load_config_text


def service_name(value: str, env: dict[str, str]) -> str:
    config = load_config_text(f"service:\n  name: {value}\n", env=env)
    return config.service.name


def test_variables_are_replaced_inside_strings() -> None:
    assert service_name('"${APP} (${STAGE})"', {"APP": "Shop", "STAGE": "prod"}) == "Shop (prod)"


def test_default_is_used_when_the_variable_is_unset_or_empty() -> None:
    assert service_name("${APP:-Shop}", {}) == "Shop"
    assert service_name("${APP:-Shop}", {"APP": ""}) == "Shop"
    assert service_name("${APP:-Shop}", {"APP": "Store"}) == "Store"


def test_double_dollar_escapes_a_literal_reference() -> None:
    assert service_name('"$${APP} costs $5"', {"APP": "Shop"}) == "${APP} costs $5"


def test_substituted_text_is_validated_like_written_text() -> None:
    config = load_config_text(
        dedent(
            """\
            service: {name: Shop}
            channels:
              - name: mail
                kind: email
                to: [ops@example.com]
                from: opsbook@example.com
                smtp: {host: "${SMTP_HOST}", port: "${SMTP_PORT}", timeout: "${SMTP_TIMEOUT}"}
            """
        ),
        env={"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "2525", "SMTP_TIMEOUT": "3s"},
    )
    smtp = config.channels[0].smtp  # type: ignore[union-attr]
    assert (smtp.host, smtp.port, smtp.timeout.total_seconds()) == ("smtp.example.com", 2525, 3)


def test_an_unset_variable_without_default_is_a_located_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("service:\n  name: Shop\n  url: ${SHOP_URL}\n", filename="o.yaml", env={})
    assert [str(issue) for issue in caught.value.issues] == [
        "o.yaml:3:8: service.url: environment variable SHOP_URL is not set "
        "(write ${SHOP_URL:-default} for a default)"
    ]


@pytest.mark.parametrize("text", ["${1ABC}", "${}", "${APP", "${APP-x}"])
def test_malformed_references_are_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="is not a variable reference like"):
        load_config_text(f'service: {{name: "{text}"}}\n', env={"APP": "Shop"})


def test_keys_and_non_string_values_are_not_substituted() -> None:
    with pytest.raises(ConfigError, match=r'unknown key "\$\{KEY\}"'):
        load_config_text("service: {name: Shop}\n${KEY}: 1\n", env={"KEY": "version"})


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOOK_TEST_SERVICE_NAME", "FromEnv")
    config = load_config_text("service:\n  name: ${OPSBOOK_TEST_SERVICE_NAME}\n")
    assert config.service.name == "FromEnv"
