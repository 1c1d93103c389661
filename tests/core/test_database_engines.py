"""Both engines: SQLite with WAL, a busy timeout and foreign keys; migrations on both."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.core.db import Database
from opsbook.core.migrate import current_revision, head_revision, upgrade


def test_sqlite_runs_in_wal_with_a_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 15000
    db.dispose()


def test_migrations_reach_head_and_are_idempotent(db: Database) -> None:
    upgrade(db.engine)  # the fixture already migrated: a second run changes nothing
    assert current_revision(db.engine) == head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert {"jobs", "notifications", "workers", "api_tokens", "audit_log"} <= tables


def test_db_upgrade_command_migrates_a_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = CliRunner().invoke(app, ["db", "upgrade", "--database", url])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    current = CliRunner().invoke(app, ["db", "current", "--database", url, "--json"])
    assert '"database": "' + str(head_revision()) in current.output


def test_postgres_urls_are_accepted_in_every_common_spelling(db: Database) -> None:
    if db.dialect != "postgresql":
        return
    plain = db.url.replace("postgresql+psycopg://", "postgresql://")
    for url in (plain, plain.replace("postgresql://", "postgres://", 1)):
        other = Database.connect(url)
        with other.engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        other.dispose()
