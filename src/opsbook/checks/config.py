"""Configuration of one check (``checks[N]``): what to probe, how often, and when it is down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from opsbook.checks.command.config import CommandCheckConfig
from opsbook.checks.conditions import ConditionText
from opsbook.checks.dns.config import DnsCheckConfig
from opsbook.checks.heartbeat.config import HeartbeatCheckConfig
from opsbook.checks.http.config import HttpCheckConfig
from opsbook.checks.postgres.config import PostgresCheckConfig
from opsbook.checks.tcp.config import TcpCheckConfig
from opsbook.checks.tls.config import TlsCheckConfig
from opsbook.config.values import ConfigModel, Duration, Slug, Text, located_error, parse_duration

# The kind keys a check may carry, in the order docs and errors list them.
CHECK_KINDS: Final = ("http", "tcp", "tls", "dns", "postgres", "command", "heartbeat")

KindConfig = (
    HttpCheckConfig
    | TcpCheckConfig
    | TlsCheckConfig
    | DnsCheckConfig
    | PostgresCheckConfig
    | CommandCheckConfig
    | HeartbeatCheckConfig
)


class CheckConfig(ConfigModel):
    """A check: a ``name``, exactly one kind key (``http:``, ``tcp:``, ...) and its schedule.

    ``conditions`` are parsed at load (:class:`~opsbook.checks.conditions.Condition`);
    the check is up when the probe answers and every condition holds::

        - name: api-health
          http: {url: https://api.example.com/healthz}
          conditions: ['body.status == "ok"', "response_time < 2s"]
    """

    name: Slug
    description: str = ""
    http: HttpCheckConfig | None = None
    tcp: TcpCheckConfig | None = None
    tls: TlsCheckConfig | None = None
    dns: DnsCheckConfig | None = None
    postgres: PostgresCheckConfig | None = None
    command: CommandCheckConfig | None = None
    heartbeat: HeartbeatCheckConfig | None = None
    every: Duration = parse_duration("30s")
    timeout: Duration = parse_duration("10s")
    # Consecutive failures before the check is down, and successes before it is up again.
    fail_after: int = Field(default=1, ge=1)
    recover_after: int = Field(default=1, ge=1)
    conditions: tuple[ConditionText, ...] = ()
    # The name of a component (components[].name) this check speaks for on the status page.
    component: Text | None = None
    labels: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = [kind for kind in CHECK_KINDS if data.get(kind) is not None]
        if len(given) != 1:
            got = "none" if not given else " and ".join(given)
            raise PydanticCustomError(
                "check_kind",
                "a check needs exactly one kind key: {kinds} (got {got})",
                {"kinds": ", ".join(CHECK_KINDS[:-1]) + " or " + CHECK_KINDS[-1], "got": got},
            )
        return data

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> CheckConfig:
        if not timedelta(0) < self.timeout < self.every:
            raise located_error(
                "timeout", "timeout", "must be longer than 0s and shorter than every"
            )
        return self

    @property
    def kind(self) -> str:
        """The kind key given: ``"http"``, ``"heartbeat"``..."""
        return next(kind for kind in CHECK_KINDS if getattr(self, kind) is not None)

    @property
    def spec(self) -> KindConfig:
        """The kind's own settings (the mapping under the kind key)."""
        spec: KindConfig = getattr(self, self.kind)
        return spec
