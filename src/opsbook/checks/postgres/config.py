"""Configuration of the postgres kind (``checks[N].postgres``)."""

from __future__ import annotations

from pydantic import SecretStr

from opsbook.config.values import ConfigModel, Text


class PostgresCheckConfig(ConfigModel):
    """Connect with ``dsn`` (a secret: ``dsn_file`` or ``${ENV}`` keep it out of the file)
    and run ``query``; its rows are ``result.rows``."""

    dsn: SecretStr
    query: Text = "SELECT 1"
