"""Shared CLI plumbing: settings from options, tables or JSON, clean exits."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

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
