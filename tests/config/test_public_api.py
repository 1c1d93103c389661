"""opsbook.config exports a curated surface, and importing it in any order works."""

import subprocess
import sys

import opsbook.config

EXPECTED = {
    "CHANNEL_KINDS",
    "SEVERITIES",
    "ChannelConfig",
    "ComponentConfig",
    "ConfigError",
    "ConfigIssue",
    "ConfigModel",
    "Duration",
    "EmailAddress",
    "HttpURL",
    "JobSettings",
    "NotificationSettings",
    "OpsbookConfig",
    "Percent",
    "PersonConfig",
    "ServiceConfig",
    "SettingsConfig",
    "Severity",
    "SeverityLevel",
    "SeverityPolicy",
    "Slug",
    "Target",
    "TeamConfig",
    "TimeZoneName",
    "default_severity_policy",
    "format_duration",
    "load_config",
    "load_config_text",
    "parse_duration",
    "starter_config",
}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(opsbook.config.__all__) == EXPECTED
    for name in opsbook.config.__all__:
        assert getattr(opsbook.config, name) is not None


def test_channel_kind_config_can_be_imported_before_the_config_package() -> None:
    # A transport imports its own config model first; that must not be a circular import.
    code = (
        "import opsbook.notify.email.config as e, opsbook.config as c; "
        "assert c.CHANNEL_KINDS['email'] is e.EmailChannelConfig"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_json_schema_can_be_generated_for_editors() -> None:
    schema = opsbook.config.OpsbookConfig.model_json_schema(by_alias=True)
    assert schema["required"] == ["service"]
    assert "channels" in schema["properties"]
