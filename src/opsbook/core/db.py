"""Engines, sessions and the column types shared by every domain's tables.

SQLite is the embedded default and PostgreSQL the scale-out engine; the same models
and migrations serve both, so no PostgreSQL-only types appear in the core tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from opsbook.core.wakeup import Wakeup, install

SQLITE_BUSY_TIMEOUT_MS = 15_000

# Deterministic constraint names keep Alembic batch migrations on SQLite workable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; UTC in the database on both engines."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps no zone; store naive UTC so comparisons are lexical and right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def execute_raw(dbapi_connection: Any, statement: str, params: Sequence[Any] = ()) -> None:
    """Run one statement on the driver's connection, bypassing SQLAlchemy (hot paths)."""
    cursor, native = driver_cursor(dbapi_connection, statement)
    try:
        cursor.execute(native, tuple(params))
    finally:
        cursor.close()


# Parameters one PostgreSQL statement takes at most (its protocol counts them in 16 bits).
MAX_PARAMETERS = 65_535


def driver_cursor(dbapi_connection: Any, statement: str) -> tuple[Any, Any]:
    """A cursor of the driver's connection, and ``statement`` as that cursor takes it.

    Raw SQL on hot paths is written with the driver's placeholders (``?`` for sqlite3,
    ``%s`` for psycopg).  On psycopg the cursor is a ``RawCursor`` and ``%s`` become
    ``$1``, ``$2``, ... here, once per distinct statement: psycopg parses ``%s`` itself
    with a regular expression on every execution of a statement with more than 50
    parameters (it caches only smaller ones), and that parsing was most of the client
    CPU of a batch of alerts (4.8x at 100 alerts, see docs/performance.md).  A statement
    with any other ``%`` goes to psycopg's own cursor unchanged.

    >>> cursor, native = driver_cursor(dbapi, "SELECT id FROM alerts WHERE id = %s")
    >>> cursor.execute(native, (7,))
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        return dbapi_connection.cursor(), statement
    native = native_placeholders(statement)
    if native is None:
        return dbapi_connection.cursor(), statement
    from psycopg import RawCursor

    return RawCursor(dbapi_connection), native


@lru_cache(maxsize=1024)
def native_placeholders(statement: str) -> bytes | None:
    """``statement`` with its ``%s`` numbered as PostgreSQL's ``$n``; None if it has any
    other ``%`` (``%%``, ``%(name)s``, ``%b``), which this does not translate."""
    parts = statement.split("%s")
    if any("%" in part for part in parts):
        return None
    out = [parts[0]]
    for number, part in enumerate(parts[1:], 1):
        out += ("$", str(number), part)
    return "".join(out).encode()


def sqlite_datetime(value: datetime) -> str:
    """``value`` as :class:`UTCDateTime` stores it on SQLite (naive UTC text), for raw SQL
    on hot paths, so that ORM reads and comparisons agree with it."""
    if value.tzinfo is UTC:  # what the clock gives: one C call, "+00:00" cut off
        return value.isoformat(" ", "microseconds")[:26]
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs.

    >>> engine = make_engine("sqlite:///opsbook.db")
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling defers BEGIN, which breaks compare-and-set
    # claims under concurrency; we issue BEGIN IMMEDIATE ourselves in _sqlite_on_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Writers take the write lock up front so a read-then-write unit of work never
    # fails with SQLITE_BUSY_SNAPSHOT; read-only factories ask for DEFERRED.
    dbapi = connection.connection.dbapi_connection
    if dbapi.in_transaction:
        # Begun by its holder already (alert intake's raw transaction, which a session
        # joins when it needs the ORM): this connection is in the right transaction.
        return
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    execute_raw(dbapi, f"BEGIN {mode}")  # runs before every SQLite transaction


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for pages and GETs: on SQLite they never wait for the write lock."""
    return sessionmaker(
        bind=engine.execution_options(sqlite_begin="DEFERRED"),
        expire_on_commit=False,
        autoflush=False,
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error.

    >>> with transaction(session_factory) as session:
    ...     session.add(row)
    """
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@dataclass(frozen=True)
class Database:
    """An engine with its two session factories; built once per process and passed down.

    ``wakeup`` is woken when a transaction that scheduled work commits (see
    :mod:`opsbook.core.wakeup`); the worker of this process waits on it.
    """

    url: str
    engine: Engine
    session: sessionmaker[Session]
    read_session: sessionmaker[Session]
    wakeup: Wakeup = field(default_factory=Wakeup)

    @classmethod
    def connect(cls, url: str, **engine_kwargs: Any) -> Database:
        engine = make_engine(url, **engine_kwargs)
        wakeup = Wakeup()
        session = make_session_factory(engine)
        install(session, wakeup)
        return cls(
            url=url,
            engine=engine,
            session=session,
            read_session=make_read_session_factory(engine),
            wakeup=wakeup,
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
