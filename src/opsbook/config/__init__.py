"""opsbook.yaml: its schema, a loader that reports errors with locations, and its defaults.

from opsbook.config import ConfigError, load_config

config = load_config("opsbook.yaml")
config.severities["P1"].respond_within  # datetime.timedelta(seconds=1800)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from opsbook.config.values import (
    ConfigModel,
    Duration,
    EmailAddress,
    HttpURL,
    Percent,
    Slug,
    Target,
    TimeZoneName,
    format_duration,
    parse_duration,
)

if TYPE_CHECKING:
    from opsbook.config.defaults import SEVERITIES, Severity
    from opsbook.config.loader import ConfigError, ConfigIssue, load_config, load_config_text
    from opsbook.config.schema import (
        CHANNEL_KINDS,
        ChannelConfig,
        ComponentConfig,
        JobSettings,
        NotificationSettings,
        OpsbookConfig,
        PersonConfig,
        ServiceConfig,
        SettingsConfig,
        SeverityLevel,
        SeverityPolicy,
        TeamConfig,
        default_severity_policy,
    )
    from opsbook.config.starter import starter_config

__all__ = [
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
]

# The channel kinds' models (opsbook.notify.<kind>.config) build on ConfigModel, and the schema
# imports them. Importing the schema lazily lets `import opsbook.notify.email.config` come
# first without a circular import.
_LAZY = {
    "SEVERITIES": "defaults",
    "Severity": "defaults",
    "ConfigError": "loader",
    "ConfigIssue": "loader",
    "load_config": "loader",
    "load_config_text": "loader",
    "starter_config": "starter",
    **dict.fromkeys(
        (
            "CHANNEL_KINDS",
            "ChannelConfig",
            "ComponentConfig",
            "JobSettings",
            "NotificationSettings",
            "OpsbookConfig",
            "PersonConfig",
            "ServiceConfig",
            "SettingsConfig",
            "SeverityLevel",
            "SeverityPolicy",
            "TeamConfig",
            "default_severity_policy",
        ),
        "schema",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"opsbook.config.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'opsbook.config' has no attribute {name!r}")
