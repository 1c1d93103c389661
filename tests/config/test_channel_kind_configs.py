"""Each channel kind's config model: one registry entry, strict fields, secrets kept secret."""

from datetime import timedelta
from textwrap import dedent

import pytest

from opsbook.config import CHANNEL_KINDS, ConfigError, load_config_text
from opsbook.notify.alertmanager_webhook.config import AlertmanagerWebhookChannelConfig
from opsbook.notify.console.config import ConsoleChannelConfig
from opsbook.notify.email.config import EmailChannelConfig
from opsbook.notify.ntfy.config import NtfyChannelConfig
from opsbook.notify.slack.config import SlackChannelConfig
from opsbook.notify.sms.config import SmsChannelConfig
from opsbook.notify.teams.config import TeamsChannelConfig
from opsbook.notify.telegram.config import TelegramChannelConfig
from opsbook.notify.voice.config import VoiceChannelConfig
from opsbook.notify.webhook.config import WebhookChannelConfig


def channels(yaml_items: str) -> list[str]:
    text = "service: {name: Shop}\nchannels:\n" + dedent(yaml_items)
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    return [f"{i.path}: {i.message}" for i in caught.value.issues]


def test_registry_maps_each_kind_to_its_model() -> None:
    assert dict(CHANNEL_KINDS) == {
        "console": ConsoleChannelConfig,
        "email": EmailChannelConfig,
        "webhook": WebhookChannelConfig,
        "slack": SlackChannelConfig,
        "teams": TeamsChannelConfig,
        "telegram": TelegramChannelConfig,
        "ntfy": NtfyChannelConfig,
        "sms": SmsChannelConfig,
        "voice": VoiceChannelConfig,
        "alertmanager-webhook": AlertmanagerWebhookChannelConfig,
    }


def test_email_defaults_and_from_alias() -> None:
    config = load_config_text(
        dedent(
            """\
            service: {name: Shop}
            channels:
              - name: mail
                kind: email
                to: [ops@example.com]
                from: Opsbook <opsbook@example.com>
                smtp: {host: smtp.example.com}
            """
        )
    )
    mail = config.channels[0]
    assert isinstance(mail, EmailChannelConfig)
    assert mail.from_ == "Opsbook <opsbook@example.com>"
    assert (mail.smtp.port, mail.smtp.security, mail.smtp.timeout) == (
        587,
        "starttls",
        timedelta(seconds=10),
    )
    assert mail.smtp.password is None
    assert config.model_dump(mode="json", by_alias=True)["channels"][0]["from"] == mail.from_


def test_email_rejects_bad_addresses_ports_and_security() -> None:
    assert channels(
        """\
        - name: mail
          kind: email
          to: [ops@example.com, not-an-address, OPS@example.com]
          from: opsbook@example.com
          smtp: {host: smtp.example.com, port: 0, security: ssl}
        """
    ) == [
        'channels[0].to[1]: expected an email address like ann@example.com, got "not-an-address"',
        "channels[0].smtp.port: expected a number >= 1, got 0",
        'channels[0].smtp.security: expected "starttls", "tls" or "none", got "ssl"',
    ]


def test_email_needs_a_recipient_and_no_repeats() -> None:
    assert channels(
        """\
        - {name: a, kind: email, to: [], from: o@example.com, smtp: {host: h}}
        - name: b
          kind: email
          to: [x@example.com, X@example.com]
          from: o@example.com
          smtp: {host: h}
        """
    ) == [
        "channels[0].to: expected at least 1 item",
        "channels[1].to: lists the same address twice",
    ]


def test_webhook_accepts_only_http_urls_and_clean_headers() -> None:
    assert channels(
        """\
        - name: hook
          kind: webhook
          url: file:///etc/passwd
          headers: {"Bad Header": x, X-Ok: "a\\nb"}
        """
    ) == [
        'channels[0].url: expected an http:// or https:// URL, got "file:///etc/passwd"',
        'channels[0].headers: "Bad Header" is not a valid HTTP header name',
    ]


def test_webhook_secret_is_masked_everywhere_but_get_secret_value() -> None:
    config = load_config_text(
        dedent(
            """\
            service: {name: Shop}
            channels:
              - {name: hook, kind: webhook, url: "https://h.example.com/x", secret: k3y}
            """
        )
    )
    hook = config.channels[0]
    assert isinstance(hook, WebhookChannelConfig)
    assert hook.secret is not None
    assert hook.secret.get_secret_value() == "k3y"
    assert "k3y" not in repr(config)
    assert "k3y" not in str(config.model_dump(mode="json"))
    assert hook.timeout == timedelta(seconds=10)
    assert hook.headers == {}


def test_console_takes_only_a_name() -> None:
    assert channels("- {name: log, kind: console, url: https://x.example.com}\n") == [
        'channels[0].url: unknown key "url" (expected one of: name, kind)'
    ]
