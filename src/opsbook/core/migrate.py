"""Schema migrations: ``opsbook db upgrade`` and every start run :func:`upgrade`."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Several processes may start at once against one PostgreSQL; one migrates, the rest wait.
_PG_MIGRATION_LOCK = 0x0B5B00C

# Every module that declares tables; Alembic's autogenerate needs them all imported.
MODEL_MODULES = (
    "opsbook.core.models",
    "opsbook.checks.models",
    "opsbook.incidents.models",
    "opsbook.status.models",
    "opsbook.incidents.postmortems.models",
    "opsbook.oncall.models",
    "opsbook.metrics.models",
    "opsbook.alerts.rules.models",
    "opsbook.alerts.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``; safe to call from many processes at once."""
    config = _config()
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                connection.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to ``revision`` (one process at a time, as an operator would)."""
    config = _config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def revise(engine: Engine, message: str) -> None:
    """Developer helper: autogenerate a migration from the models (``opsbook db revision``)."""
    config = _config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
