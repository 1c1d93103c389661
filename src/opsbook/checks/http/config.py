"""Configuration of the http kind (``checks[N].http``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from opsbook.config.values import ConfigModel, HttpHeaders, HttpURL, Regex


class HttpCheckConfig(ConfigModel):
    """One HTTP request; by default any 2xx answer is up.

    ``security_headers: true`` requires HSTS, CSP, ``X-Content-Type-Options: nosniff``,
    ``X-Frame-Options`` and ``Referrer-Policy``, each reported as its own verdict.
    """

    url: HttpURL
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: HttpHeaders = {}
    body: str | None = None
    # Off by default: a redirect is usually news (a login page, a moved health check).
    follow_redirects: bool = False
    # None: any 2xx status is expected.
    expect_status: tuple[int, ...] | None = Field(default=None, min_length=1)
    contains: str | None = None
    regex: Regex | None = None
    security_headers: bool = False
    tls_verify: bool = True
    # Trust this CA bundle instead of the system store (an internal CA).
    ca_file: Path | None = None

    @field_validator("expect_status")
    @classmethod
    def _statuses_exist(cls, statuses: tuple[int, ...] | None) -> tuple[int, ...] | None:
        for status in statuses or ():
            if not 100 <= status <= 599:
                raise ValueError(f"{status} is not an HTTP status code (100 to 599)")
        return statuses
