"""Configuration of the teams channel."""

from typing import Literal

from pydantic import SecretStr, field_validator

from opsbook.config.values import ConfigModel, Duration, Slug, parse_duration
from opsbook.notify.slack.config import check_webhook_url


class TeamsChannelConfig(ConfigModel):
    """Posts each notification as an Adaptive Card to a Teams Workflows (Power Automate) webhook.

    The workflow's URL carries its own signature (``sig=``), so it is a secret.
    """

    name: Slug
    kind: Literal["teams"]
    webhook_url: SecretStr
    timeout: Duration = parse_duration("10s")

    _check_url = field_validator("webhook_url")(check_webhook_url)
