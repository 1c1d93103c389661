"""Configuration of the webhook channel."""

from typing import Literal

from pydantic import SecretStr

from opsbook.config.values import (
    ConfigModel,
    Duration,
    HttpHeaders,
    HttpURL,
    Slug,
    parse_duration,
)


class WebhookChannelConfig(ConfigModel):
    """POSTs each notification as JSON to a URL.

    With a ``secret``, every request carries an HMAC-SHA256 signature of its body made with
    that key, so the receiver can tell the request came from this Opsbook.
    """

    name: Slug
    kind: Literal["webhook"]
    url: HttpURL
    secret: SecretStr | None = None
    headers: HttpHeaders = {}
    timeout: Duration = parse_duration("10s")
