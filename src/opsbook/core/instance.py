"""Values an instance generates once and shares between its processes.

The signing key: ``OPSBOOK_SECRET_KEY`` (or ``OPSBOOK_SECRET_KEY_FILE``) when set, else
a random 256-bit key generated on first use and kept in ``instance_settings``, so every
web and worker process of one database signs and verifies alike, across restarts.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from opsbook.core.db import Database
from opsbook.core.models import InstanceSetting

SECRET_KEY_SETTING = "secret_key"  # noqa: S105 - the name of the row, not a secret


def stored_secret_key(db: Database) -> str:
    """The instance's generated signing key, created by whichever process asks first."""
    with db.session() as session, session.begin():
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(InstanceSetting)
            .values(key=SECRET_KEY_SETTING, value=secrets.token_urlsafe(32))
            .on_conflict_do_nothing(index_elements=[InstanceSetting.key])
        )
        value = session.scalar(
            select(InstanceSetting.value).where(InstanceSetting.key == SECRET_KEY_SETTING)
        )
    if not value:
        raise RuntimeError("the instance's secret key could not be stored")
    return value
