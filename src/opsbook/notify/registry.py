"""Channel kinds by the name opsbook.yaml uses for them.

Adding a kind: a folder ``opsbook/notify/<kind>/`` (``-`` written ``_``) with ``config.py`` and
``transport.py``, one line here, one line in ``opsbook.config.schema``, a test named
after it in ``tests/notify/`` and a section in ``docs/channels.md``
(``tests/notify/test_channel_registry.py`` checks the last three).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from opsbook.notify.alertmanager_webhook.transport import AlertmanagerWebhookTransport
from opsbook.notify.base import ChannelConfig, Transport
from opsbook.notify.console.transport import ConsoleTransport
from opsbook.notify.email.transport import EmailTransport
from opsbook.notify.ntfy.transport import NtfyTransport
from opsbook.notify.slack.transport import SlackTransport
from opsbook.notify.sms.transport import SmsTransport
from opsbook.notify.teams.transport import TeamsTransport
from opsbook.notify.telegram.transport import TelegramTransport
from opsbook.notify.voice.transport import VoiceTransport
from opsbook.notify.webhook.transport import WebhookTransport

CHANNEL_KINDS: Final[dict[str, type[Transport]]] = {
    "console": ConsoleTransport,
    "email": EmailTransport,
    "webhook": WebhookTransport,
    "slack": SlackTransport,
    "teams": TeamsTransport,
    "telegram": TelegramTransport,
    "ntfy": NtfyTransport,
    "sms": SmsTransport,
    "voice": VoiceTransport,
    "alertmanager-webhook": AlertmanagerWebhookTransport,
}


class UnknownChannelKind(LookupError):
    pass


def transport_class(kind: str) -> type[Transport]:
    try:
        return CHANNEL_KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(CHANNEL_KINDS))
        raise UnknownChannelKind(f'unknown channel kind "{kind}" (known kinds: {known})') from None


def build_transport(channel_config: ChannelConfig) -> Transport:
    """The transport for one configured channel.

    >>> transport = build_transport(config.find_channel("oncall-mail"))
    """
    cls = transport_class(channel_config.kind)
    if not isinstance(channel_config, cls.config_model):
        raise TypeError(
            f"channel {channel_config.name!r} of kind {channel_config.kind!r} needs a "
            f"{cls.config_model.__name__}, got {type(channel_config).__name__}"
        )
    # Every transport takes its own config model first (see Transport's docstring).
    return cls(channel_config)  # type: ignore[call-arg]


def build_transports(channels: Iterable[ChannelConfig]) -> dict[str, Transport]:
    """Transports by channel name, what :class:`~opsbook.notify.dispatcher.Dispatcher` takes.

    The caller closes them (``await transport.aclose()``) at shutdown.
    """
    return {channel.name: build_transport(channel) for channel in channels}
