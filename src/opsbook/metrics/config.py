"""Configuration of the metrics store (``metrics:``): retention, scrape targets, Prometheus sources.

metrics:
  keep_raw: 2d
  scrape:
    - {name: api, url: "http://10.0.0.5:9100/metrics", every: 15s}
  prometheus:
    - {name: main, url: "http://prometheus:9090"}
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr, field_validator, model_validator

from opsbook.config.values import (
    ConfigModel,
    Duration,
    HttpHeaders,
    HttpURL,
    Slug,
    located_error,
    parse_duration,
)

_RESERVED = frozenset({"job", "instance"})


class ScrapeTargetConfig(ConfigModel):
    """An endpoint in the Prometheus text format, scraped every ``every`` into the store.

    Every series gets ``job`` (the target's name) and ``instance`` (host:port of the URL)
    and the target's ``labels``.  A scraped label of the same name is kept as
    ``exported_<name>``, unless ``honor_labels`` is true: then the scraped one wins.
    """

    name: Slug
    url: HttpURL
    every: Duration = parse_duration("30s")
    timeout: Duration = parse_duration("10s")
    labels: dict[str, str] = {}
    honor_labels: bool = False
    headers: HttpHeaders = {}
    bearer_token: SecretStr | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for label in value:
            if label in _RESERVED:
                raise ValueError(f'"{label}" is set from the target itself (name and url)')
        return value

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> ScrapeTargetConfig:
        if not timedelta(0) < self.timeout <= self.every:
            raise located_error("timeout", "timeout", "must be longer than 0s and at most every")
        return self


class PrometheusSourceConfig(ConfigModel):
    """A Prometheus whose HTTP API (``/api/v1/query``) rules can query with ``source:``."""

    name: Slug
    url: HttpURL
    timeout: Duration = parse_duration("5s")
    headers: HttpHeaders = {}
    bearer_token: SecretStr | None = None

    @model_validator(mode="after")
    def _timeout(self) -> PrometheusSourceConfig:
        if not timedelta(0) < self.timeout <= timedelta(seconds=30):
            raise located_error("timeout", "timeout", "must be longer than 0s and at most 30s")
        return self


class MetricsConfig(ConfigModel):
    """The metrics store: what it keeps, and where its samples come from besides pushes."""

    # Raw samples; quantile() and exact rate() read these. At least 2h.
    keep_raw: Duration = parse_duration("2d")
    # 5-minute rollups (count, sum, min, max, first, last, counter increase).
    keep_rollups: Duration = parse_duration("90d")
    scrape: tuple[ScrapeTargetConfig, ...] = ()
    prometheus: tuple[PrometheusSourceConfig, ...] = ()

    @model_validator(mode="after")
    def _retention(self) -> MetricsConfig:
        if self.keep_raw < timedelta(hours=2):
            raise located_error("keep_raw", "retention", "must be at least 2h")
        if self.keep_rollups < self.keep_raw:
            raise located_error("keep_rollups", "retention", "must not be shorter than keep_raw")
        return self
