"""Raw SQL on hot paths runs on the driver's own cursor; on psycopg, as a RawCursor with
PostgreSQL's numbered placeholders, so psycopg never re-parses a big statement."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from opsbook.core.db import Database, driver_cursor, execute_raw, native_placeholders


def test_percent_s_placeholders_are_numbered_in_order() -> None:
    assert native_placeholders("SELECT %s, %s FROM t WHERE a = %s") == (
        b"SELECT $1, $2 FROM t WHERE a = $3"
    )
    assert native_placeholders("SELECT 1") == b"SELECT 1"


@pytest.mark.parametrize(
    "statement", ["SELECT '100%%' || %s", "SELECT %(name)s", "SELECT %b", "SELECT 'a%' || %s"]
)
def test_a_statement_with_any_other_percent_is_left_to_the_driver(statement: str) -> None:
    assert native_placeholders(statement) is None


def test_a_statement_with_many_parameters_returns_every_row(db: Database) -> None:
    ph = "?" if db.dialect == "sqlite" else "%s"
    values = list(range(600))  # far beyond psycopg's 50-parameter statement cache
    statement = "SELECT * FROM (VALUES " + ",".join([f"({ph})"] * 600) + ") AS t"  # noqa: S608
    with db.engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        cursor, native = driver_cursor(dbapi, statement)
        try:
            cursor.execute(native, values)
            assert sorted(int(v) for (v,) in cursor.fetchall()) == values
        finally:
            cursor.close()
        if db.dialect == "postgresql":
            assert type(cursor).__name__ == "RawCursor"
            assert native == native_placeholders(statement)


def test_a_statement_the_translation_leaves_alone_still_runs(db: Database) -> None:
    if db.dialect == "sqlite":
        pytest.skip("sqlite3 takes ? placeholders, and % is plain text to it")
    with db.engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        cursor, native = driver_cursor(dbapi, "SELECT '100%%' || %s")
        try:
            cursor.execute(native, ("!",))
            assert cursor.fetchall() == [("100%!",)]
        finally:
            cursor.close()


def test_execute_raw_writes_in_the_callers_transaction(db: Database) -> None:
    ph = "?" if db.dialect == "sqlite" else "%s"
    with db.engine.connect() as connection:
        connection.execute(text("CREATE TEMPORARY TABLE raw_probe (v INTEGER)"))
        dbapi = connection.connection.dbapi_connection
        execute_raw(dbapi, f"INSERT INTO raw_probe (v) VALUES ({ph}), ({ph})", (1, 2))  # noqa: S608
        assert connection.execute(text("SELECT SUM(v) FROM raw_probe")).scalar() == 3
        connection.rollback()
