"""Configuration of the voice channel."""

from typing import Literal

from pydantic import Field

from opsbook.config.values import ConfigModel, Duration, PhoneNumber, Slug, parse_duration
from opsbook.notify.sms.config import GatewayConfig


class VoiceChannelConfig(ConfigModel):
    """Places a phone call that reads the alert out, trying ``providers`` in order.

    The gateways are the sms channel's (Twilio-style); the number comes from the
    notification's target or else ``to``.
    """

    name: Slug
    kind: Literal["voice"]
    providers: tuple[GatewayConfig, ...] = Field(min_length=1)
    to: PhoneNumber | None = None
    timeout: Duration = parse_duration("10s")
