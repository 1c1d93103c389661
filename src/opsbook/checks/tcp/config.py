"""Configuration of the tcp kind (``checks[N].tcp``)."""

from __future__ import annotations

from pydantic import Field

from opsbook.config.values import ConfigModel, Text


class TcpCheckConfig(ConfigModel):
    """Connect to ``host:port``; with ``send`` write it first, with ``expect`` wait for it."""

    host: Text
    port: int = Field(ge=1, le=65535)
    send: str | None = None
    # Up when this text appears in what the server sends within the timeout.
    expect: str | None = None
