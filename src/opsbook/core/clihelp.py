"""Shared CLI plumbing: settings from options, tables or JSON, clean exits."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from opsbook.config import ConfigError, OpsbookConfig, load_config
from opsbook.core.db import Database
from opsbook.core.migrate import upgrade
from opsbook.settings import Settings

console = Console()
err_console = Console(stderr=True)

DatabaseOption = typer.Option(
    None,
    "--database",
    "-d",
    envvar="OPSBOOK_DATABASE_URL",
    help="Database URL: sqlite:///opsbook.db (default) or postgresql://user@host/db.",
    show_default=False,
)
ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    envvar="OPSBOOK_CONFIG",
    help="Path to opsbook.yaml (default: ./opsbook.yaml).",
    show_default=False,
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def settings_from(
    *, database: str | None = None, config: Path | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if database:
        values["database_url"] = database
    if config:
        values["config_file"] = config
    try:
        return Settings(**values)
    except ValueError as exc:
        fail(f"invalid setting: {exc}", code=2)


@contextmanager
def open_database(database: str | None, *, migrate: bool = True) -> Iterator[Database]:
    """The database for one command, migrated and closed afterwards.

    A database that cannot be used exits 1 with a message, never a traceback.
    """
    settings = settings_from(database=database)
    db = Database.connect(settings.database_url)
    try:
        if migrate:
            upgrade(db.engine)
        yield db
    except SQLAlchemyError as exc:
        reason = f"{exc.__class__.__name__}: {exc.args[0]}"
        fail(f"cannot use database {settings.database_url}: {reason}")
    finally:
        db.dispose()


def load_config_or_exit(config: Path | None) -> OpsbookConfig:
    """opsbook.yaml for a command that needs it; an invalid file exits 2 with its errors."""
    settings = settings_from(config=config)
    try:
        return load_config(settings.config_file)
    except ConfigError as exc:
        fail(f"{settings.config_file} is not valid:\n{exc}", code=2)


def fail(message: str, *, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def print_rows(
    rows: Sequence[dict[str, Any]], *, columns: Sequence[str], as_json: bool, title: str = ""
) -> None:
    if as_json:
        sys.stdout.write(
            json.dumps([{k: _jsonable(v) for k, v in row.items()} for row in rows], indent=2) + "\n"
        )
        return
    table = Table(title=title or None)
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # Tables are read by people: UTC to the second is enough (--json has the rest).
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)
