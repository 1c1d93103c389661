"""Configuration of the sms channel, and of the Twilio-style gateways sms and voice share."""

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints

from opsbook.config.values import (
    ConfigModel,
    Duration,
    HttpURL,
    PhoneNumber,
    Slug,
    parse_duration,
)

AccountSid = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{2,64}$")]


class GatewayConfig(ConfigModel):
    """One HTTP gateway that speaks Twilio's REST API (Twilio itself, or a compatible one).

    Requests go to ``{api_base}/2010-04-01/Accounts/{account_sid}/...`` with HTTP Basic
    authentication ``account_sid:auth_token``.
    """

    api_base: HttpURL = "https://api.twilio.com"
    account_sid: AccountSid
    auth_token: SecretStr
    from_: PhoneNumber = Field(alias="from")


class SmsChannelConfig(ConfigModel):
    """Sends each notification as a short text message, trying ``providers`` in order.

    The number comes from the notification's target (a person's phone) or else ``to``.
    """

    name: Slug
    kind: Literal["sms"]
    providers: tuple[GatewayConfig, ...] = Field(min_length=1)
    to: PhoneNumber | None = None
    timeout: Duration = parse_duration("10s")
