"""The ``opsbook init`` and ``opsbook check`` commands.

These are plain functions; ``opsbook.cli`` registers them::

    app.command("init")(opsbook.config.cli.init)
    app.command("check")(opsbook.config.cli.check)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from opsbook.config.loader import ConfigError, load_config
from opsbook.config.schema import OpsbookConfig
from opsbook.config.starter import starter_config
from opsbook.config.values import format_duration

_DEFAULT_FILE = Path("opsbook.yaml")


def init(
    file: Annotated[
        Path, typer.Argument(help="Where to write the starter configuration.", show_default=True)
    ] = _DEFAULT_FILE,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the file if it already exists.")
    ] = False,
) -> None:
    """Write a commented starter opsbook.yaml that shows every section and key."""
    if file.exists() and not force:
        typer.echo(f"{file} already exists; pass --force to overwrite it.", err=True)
        raise typer.Exit(2)
    try:
        file.write_text(starter_config(), encoding="utf-8")
    except OSError as exc:
        typer.echo(f"cannot write {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Wrote {file}. Edit it, then run: opsbook check {file}")


def check(
    file: Annotated[
        Path,
        typer.Argument(
            help="The configuration file to validate.", envvar="OPSBOOK_CONFIG", show_default=True
        ),
    ] = _DEFAULT_FILE,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON instead of a table.")
    ] = False,
) -> None:
    """Validate an opsbook.yaml; print every mistake as file:line:column: path: message."""
    try:
        config = load_config(file)
    except ConfigError as error:
        if json_output:
            errors = [
                {
                    "file": i.file,
                    "line": i.line,
                    "column": i.column,
                    "path": i.path,
                    "message": i.message,
                }
                for i in error.issues
            ]
            typer.echo(json.dumps({"ok": False, "errors": errors}, indent=2))
        else:
            for issue in error.issues:
                typer.echo(str(issue), err=True)
            count = _count(len(error.issues), "problem", "problems")
            typer.echo(f"{count} in {file}", err=True)
        raise typer.Exit(1) from None
    if json_output:
        typer.echo(json.dumps({"ok": True, "summary": summarize(config)}, indent=2))
    else:
        _print_summary(config, file)


def summarize(config: OpsbookConfig) -> dict[str, Any]:
    """What ``opsbook check --json`` reports about a valid configuration."""
    return {
        "service": config.service.name,
        "components": len(config.components),
        "people": len(config.people),
        "teams": len(config.teams),
        "channels": len(config.channels),
        "severities": {
            severity: {
                "respond_within": format_duration(level.respond_within),
                "ack_within": format_duration(level.ack_within) if level.ack_within else None,
                "escalate_after": format_duration(level.escalate_after),
                "notify": [str(target) for target in level.notify],
                "escalate_to": [str(target) for target in level.escalate_to],
            }
            for severity, level in config.severities.items()
        },
    }


def _print_summary(config: OpsbookConfig, file: Path) -> None:
    console = Console()
    console.print(f"[green]✓[/green] {file} is valid: [bold]{config.service.name}[/bold]")
    counts = (
        _count(len(config.components), "component", "components"),
        _count(len(config.people), "person", "people"),
        _count(len(config.teams), "team", "teams"),
        _count(len(config.channels), "channel", "channels"),
    )
    console.print("  " + ", ".join(counts))
    table = Table(title="Severity policy")
    for column in ("severity", "respond", "ack", "escalate"):
        table.add_column(column, no_wrap=True)
    table.add_column("notify", overflow="fold")
    for severity, level in config.severities.items():
        ack = level.ack_within if level.ack_within is not None else level.respond_within
        table.add_row(
            severity,
            format_duration(level.respond_within),
            format_duration(ack),
            "at once" if not level.escalate_after else format_duration(level.escalate_after),
            "\n".join(str(t) for t in level.notify) or "recorded only",
        )
    console.print(table)


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"
