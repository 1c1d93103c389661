"""Fixtures shared by every test: real SQLite and real PostgreSQL, and a fake clock.

Every test that touches the database takes ``db`` and so runs on both engines.  The
PostgreSQL leg gets a database of its own per test run (so parallel runs on one server
do not collide); in CI (``CI=true``) an unreachable PostgreSQL fails the run instead of
skipping it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from opsbook.app import create_app
from opsbook.core.auth import create_token
from opsbook.core.clock import FakeClock
from opsbook.core.db import Base, Database, make_engine
from opsbook.core.migrate import import_all_models, upgrade
from opsbook.runtime import Runtime
from opsbook.settings import Settings
from support import TEST_CONFIG

PG_ADMIN_URL = os.environ.get("OPSBOOK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_server_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL database for this test run, dropped afterwards."""
    name = f"opsbook_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = _pg_server_url(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once, copy per test: a fresh SQLite file costs a file copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


def _truncate_all(database: Database) -> None:
    import_all_models()
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "opsbook.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database.connect(f"sqlite:///{path}")
    else:
        database = Database.connect(request.getfixturevalue("pg_url"))
        _truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "opsbook.yaml"
    path.write_text(TEST_CONFIG)
    return path


@pytest.fixture
def runtime(db: Database, clock: FakeClock, config_file: Path) -> Runtime:
    settings = Settings(database_url=db.url, config_file=config_file)
    return Runtime.create(settings, clock=clock, db=db, migrate=False)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.fixture
def tokens(runtime: Runtime) -> dict[str, str]:
    """A bearer token per role."""
    raw: dict[str, str] = {}
    with runtime.db.session() as session, session.begin():
        for role in ("viewer", "responder", "admin"):
            _token, raw[role] = create_token(
                session, name=f"{role}-token", role=role, now=runtime.clock.now()
            )
    return raw
