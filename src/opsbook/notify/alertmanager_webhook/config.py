"""Configuration of the alertmanager-webhook channel (Alertmanager's ``webhook_config``)."""

from typing import Literal

from pydantic import Field, SecretStr

from opsbook.config.values import (
    ConfigModel,
    Duration,
    HttpHeaders,
    HttpURL,
    Slug,
    parse_duration,
)


class AlertmanagerWebhookChannelConfig(ConfigModel):
    """POSTs alert group notifications in Alertmanager's webhook format (version 4).

    ``max_alerts`` and ``send_resolved`` mean what they mean in Alertmanager's
    ``webhook_config``; ``headers`` carries e.g. an ``Authorization`` header, and a
    ``secret`` adds Opsbook's HMAC signature as the webhook channel does.
    """

    name: Slug
    kind: Literal["alertmanager-webhook"]
    url: HttpURL
    # Alerts in one message at most; the rest are counted in truncatedAlerts. 0: all.
    max_alerts: int = Field(default=0, ge=0)
    send_resolved: bool = True
    secret: SecretStr | None = None
    headers: HttpHeaders = {}
    timeout: Duration = parse_duration("10s")
