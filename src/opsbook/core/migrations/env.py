"""Alembic environment: always run through opsbook.core.migrate with a live connection."""

from __future__ import annotations

from alembic import context

from opsbook.core.db import Base
from opsbook.core.migrate import import_all_models

import_all_models()
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
