"""Configuration of the slack channel."""

import re
from typing import Literal

from pydantic import SecretStr, field_validator

from opsbook.config.values import ConfigModel, Duration, Slug, parse_duration

_HTTP_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")


def check_webhook_url(url: SecretStr) -> SecretStr:
    """Reject a secret webhook URL that is not http(s), without echoing it back."""
    if not _HTTP_URL.fullmatch(url.get_secret_value()):
        raise ValueError("expected an http:// or https:// URL (the value is not shown: a secret)")
    return url


class SlackChannelConfig(ConfigModel):
    """Posts each notification to a Slack incoming webhook as a Block Kit message.

    The webhook URL is a secret (it alone lets anyone post to the channel), so it is a
    ``SecretStr`` that can come from ``webhook_url_file`` or ``${ENV}``.  Incoming
    webhooks post to the channel chosen when the webhook was made; they cannot override it.
    """

    name: Slug
    kind: Literal["slack"]
    webhook_url: SecretStr
    timeout: Duration = parse_duration("10s")

    _check_url = field_validator("webhook_url")(check_webhook_url)
