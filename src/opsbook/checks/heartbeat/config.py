"""Configuration of the heartbeat kind (``checks[N].heartbeat``)."""

from __future__ import annotations

from croniter import croniter
from pydantic import SecretStr, model_validator

from opsbook.config.values import ConfigModel, Duration, TimeZoneName, located_error, parse_duration


class HeartbeatCheckConfig(ConfigModel):
    """A dead-man's switch: ``POST /api/v1/heartbeats/{key}`` on every run of the job.

    Give ``period`` (``1d``) or ``cron`` (``0 3 * * *`` in ``timezone``), not both. The
    check fails when no ping arrives within the period (or after the cron time) plus
    ``grace``. The key is a secret: whoever knows it can ping.
    """

    key: SecretStr
    period: Duration | None = None
    cron: str | None = None
    timezone: TimeZoneName | None = None
    grace: Duration = parse_duration("5m")

    @model_validator(mode="after")
    def _period_or_cron(self) -> HeartbeatCheckConfig:
        if (self.period is None) == (self.cron is None):
            raise located_error("period", "heartbeat", "give either period or cron, not both")
        if len(self.key.get_secret_value()) < 16:
            raise located_error("key", "heartbeat", "a heartbeat key needs at least 16 characters")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise located_error(
                "cron", "heartbeat", f'"{self.cron}" is not a cron expression like "0 3 * * *"'
            )
        return self
