"""Configuration of the dns kind (``checks[N].dns``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from opsbook.config.values import ConfigModel, Text

RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS"]
Rcode = Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"]
_SERVER = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+)(?::(?P<port>\d{1,5}))?")


def split_server(server: str) -> tuple[str, int]:
    """``"10.0.0.2:5353"`` -> ``("10.0.0.2", 5353)``; the port defaults to 53."""
    match = _SERVER.fullmatch(server.strip())
    if match is None:
        raise ValueError(f'expected a DNS server like 10.0.0.2 or 10.0.0.2:53, got "{server}"')
    port = int(match["port"] or 53)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range (1 to 65535)")
    return match["host"].strip("[]"), port


class DnsCheckConfig(ConfigModel):
    """Ask ``server`` (default: the system's first resolver) for ``name``'s ``type`` records.

    Up when the rcode is ``rcode`` (default NOERROR with at least one answer) and every
    ``expect`` answer is among the answers.
    """

    name: Text
    type: RecordType = "A"
    server: str | None = None
    expect: tuple[str, ...] | None = Field(default=None, min_length=1)
    rcode: Rcode | None = None

    @field_validator("server")
    @classmethod
    def _server_is_host_and_port(cls, server: str | None) -> str | None:
        if server is not None:
            split_server(server)
        return server
