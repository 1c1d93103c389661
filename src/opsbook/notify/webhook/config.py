"""Configuration of the webhook channel."""

import re
from typing import Literal

from pydantic import SecretStr, field_validator

from opsbook.config.values import ConfigModel, Duration, HttpURL, Slug, parse_duration


class WebhookChannelConfig(ConfigModel):
    """POSTs each notification as JSON to a URL.

    With a ``secret``, every request carries an HMAC-SHA256 signature of its body made with
    that key, so the receiver can tell the request came from this Opsbook.
    """

    name: Slug
    kind: Literal["webhook"]
    url: HttpURL
    secret: SecretStr | None = None
    headers: dict[str, str] = {}
    timeout: Duration = parse_duration("10s")

    @field_validator("headers")
    @classmethod
    def _headers_are_well_formed(cls, headers: dict[str, str]) -> dict[str, str]:
        for header, value in headers.items():
            if not _HEADER_NAME.fullmatch(header):
                raise ValueError(f'"{header}" is not a valid HTTP header name')
            # A line break would let a value smuggle in a header of its own.
            if "\r" in value or "\n" in value:
                raise ValueError(f'the value of "{header}" contains a line break')
        return headers


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
