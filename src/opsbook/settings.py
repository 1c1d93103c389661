"""Process settings: where the database is, where to listen, how to log.

These come from the environment (``OPSBOOK_*``) and CLI flags; what *should be*
(checks, people, severities) lives in opsbook.yaml instead.  Any secret setting
``OPSBOOK_X`` may be given as ``OPSBOOK_X_FILE=/run/secrets/x``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from opsbook.config.values import Duration

DEFAULT_DATABASE_URL = "sqlite:///opsbook.db"
_SECRET_SETTINGS = ("secret_key", "database_url")


class Settings(BaseSettings):
    """Built once by the CLI (or a test) and passed down; never read at import time."""

    model_config = SettingsConfigDict(env_prefix="OPSBOOK_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    config_file: Path = Field(
        default=Path("opsbook.yaml"),
        validation_alias=AliasChoices("config_file", "opsbook_config"),
    )
    listen: str = "127.0.0.1:8080"
    public_url: str | None = None
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs sessions and links; generated and stored in the DB if unset.",
    )
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Worker tuning, as durations like opsbook.yaml's: OPSBOOK_WORKER_POLL_INTERVAL=500ms.
    worker_poll_interval: Duration = timedelta(seconds=1)
    worker_heartbeat_interval: Duration = timedelta(seconds=5)
    worker_stale_after: Duration = timedelta(seconds=30)
    job_batch_size: int = 20
    delivery_concurrency: int = 8
    shutdown_grace: Duration = timedelta(seconds=20)
    cookie_secure: bool = False

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """Support ``OPSBOOK_SECRET_KEY_FILE`` and friends (Docker/Kubernetes secrets)."""
        if not isinstance(data, dict):
            return data
        for name in _SECRET_SETTINGS:
            env_name = f"OPSBOOK_{name.upper()}_FILE"
            path = os.environ.get(env_name)
            if path and name not in data:
                try:
                    data[name] = Path(path).read_text(encoding="utf-8").rstrip("\n")
                except OSError as exc:
                    raise ValueError(f"{env_name}: cannot read {path}: {exc.strerror}") from exc
        return data

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def listen_host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return (host or "127.0.0.1"), int(port)
