"""Configuration of the email channel."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from opsbook.config.values import (
    ConfigModel,
    Duration,
    EmailAddress,
    Mailbox,
    Slug,
    Text,
    parse_duration,
)


class SmtpConfig(ConfigModel):
    """The SMTP server that relays the mail."""

    host: Text
    port: int = Field(default=587, ge=1, le=65535)
    # starttls upgrades a plain connection (port 587); tls connects encrypted (port 465).
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Text | None = None
    password: SecretStr | None = None
    timeout: Duration = parse_duration("10s")
    # Trust this CA bundle instead of the system store (a private relay's own CA).
    ca_file: Path | None = None


class EmailChannelConfig(ConfigModel):
    """Sends each notification as an email (plain text and HTML) to fixed addresses."""

    name: Slug
    kind: Literal["email"]
    to: tuple[EmailAddress, ...] = Field(min_length=1)
    from_: Mailbox = Field(alias="from")
    smtp: SmtpConfig

    @field_validator("to")
    @classmethod
    def _no_repeated_recipient(cls, to: tuple[str, ...]) -> tuple[str, ...]:
        seen = {address.lower() for address in to}
        if len(seen) != len(to):
            raise ValueError("lists the same address twice")
        return to
