"""Configuration of the telegram channel."""

import re
from typing import Literal

from pydantic import SecretStr, field_validator

from opsbook.config.values import ConfigModel, Duration, HttpURL, Slug, parse_duration

_CHAT_ID = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,}")
_BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{20,}")


class TelegramChannelConfig(ConfigModel):
    """Sends each notification to one Telegram chat through a bot (Bot API ``sendMessage``).

    ``chat_id`` is a numeric chat id (groups and channels are negative) or a public
    channel's ``@username``.  ``api_base`` is for a self-hosted Bot API server (or a test).
    """

    name: Slug
    kind: Literal["telegram"]
    bot_token: SecretStr
    chat_id: str
    api_base: HttpURL = "https://api.telegram.org"
    timeout: Duration = parse_duration("10s")

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: object) -> str:
        # YAML reads -1001234567890 as a number; both spellings mean the same chat.
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(text, str) and _CHAT_ID.fullmatch(text):
            return text
        raise ValueError("expected a numeric chat id like -1001234567890 or @channelname")

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, token: SecretStr) -> SecretStr:
        if not _BOT_TOKEN.fullmatch(token.get_secret_value()):
            raise ValueError(
                "expected a bot token like 123456:ABC-DEF... from @BotFather"
                " (the value is not shown: a secret)"
            )
        return token
