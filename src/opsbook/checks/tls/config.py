"""Configuration of the tls kind (``checks[N].tls``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from opsbook.config.values import ConfigModel, Text


class TlsCheckConfig(ConfigModel):
    """A TLS handshake with ``host:port`` that reads the certificate chain.

    With ``verify`` (the default) an untrusted chain or a name mismatch is down; the
    certificate is still read and reported. ``min_days`` fails the check when the leaf
    or any certificate of the chain expires sooner.
    """

    host: Text
    port: int = Field(default=443, ge=1, le=65535)
    # The name sent as SNI and matched against the certificate; default: host.
    server_name: Text | None = None
    ca_file: Path | None = None
    verify: bool = True
    min_days: int | None = Field(default=None, ge=0)
