"""The postgres probe: connect, run one query, report its rows. The DSN is never shown."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from opsbook.checks.base import Probe, ProbeError, Stopwatch, no_answer_within
from opsbook.checks.postgres.config import PostgresCheckConfig
from opsbook.checks.result import Observation

ROW_CAP = 100  # rows kept in the values; result.row_count still counts them all


class PostgresProbe(Probe):
    """Values: ``result.rows`` (a list of ``{column: value}``), ``result.row_count``,
    ``connect_time`` (seconds). Timings: ``connect``, ``query``, ``total``.

    The server is asked to stop the query at the check's timeout too
    (``statement_timeout``), so a slow query does not outlive the check.
    """

    kind = "postgres"
    config_model = PostgresCheckConfig

    def __init__(self, config: PostgresCheckConfig) -> None:
        super().__init__(config)
        self.config: PostgresCheckConfig = config
        self.secret = config.dsn.get_secret_value()
        try:
            self.user_options = "options" in conninfo_to_dict(self.secret)
        except psycopg.ProgrammingError:
            self.user_options = False  # connect reports the malformed DSN (without it)

    async def observe(self, *, timeout: float) -> Observation:
        watch = Stopwatch()
        extra: dict[str, Any] = {}
        if not self.user_options:
            extra["options"] = f"-c statement_timeout={max(1, int(timeout * 1000))}"
        connection: psycopg.AsyncConnection[dict[str, Any]] | None = None
        try:
            async with asyncio.timeout(timeout):
                try:
                    connection = await psycopg.AsyncConnection.connect(
                        self.secret, autocommit=True, row_factory=dict_row, **extra
                    )
                except psycopg.Error as exc:
                    raise ProbeError("connect", self._safe(exc), timings=watch.done()) from None
                connect_time = watch.lap("connect")
                try:
                    cursor = await connection.execute(self.config.query)
                    rows = await cursor.fetchall() if cursor.description else []
                except psycopg.Error as exc:
                    raise ProbeError(
                        "query", f"the query failed: {self._safe(exc)}", timings=watch.done()
                    ) from None
                watch.lap("query")
        except TimeoutError:
            raise ProbeError("timeout", no_answer_within(timeout), timings=watch.done()) from None
        finally:
            if connection is not None:
                await connection.close()
        result = {
            "rows": [{k: _plain(v) for k, v in row.items()} for row in rows[:ROW_CAP]],
            "row_count": len(rows),
        }
        values = {"result": result, "connect_time": connect_time}
        return Observation(values=values, timings=watch.done())

    def _safe(self, error: psycopg.Error) -> str:
        # libpq messages name host and port, not the password; scrub the DSN anyway.
        message = " ".join(str(error).split()) or type(error).__name__
        message = message.replace(self.secret, "<dsn>")
        return re.sub(r"(password\s*=\s*)\S+", r"\1***", message)


def _plain(value: Any) -> Any:
    """Column values as the condition language and JSON storage see them."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | bytes | memoryview):
        return str(value) if isinstance(value, uuid.UUID) else bytes(value).hex()
    return value
