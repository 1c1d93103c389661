"""The ``opsbook`` command: assembles the sub-commands of every domain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from opsbook import __version__
from opsbook.alerts import cli as alerts_cli
from opsbook.alerts.rules import cli as rules_cli
from opsbook.checks import cli as checks_cli
from opsbook.config import cli as config_cli
from opsbook.core import cli as core_cli
from opsbook.core.clihelp import ConfigOption, DatabaseOption, settings_from
from opsbook.demo import cli as demo_cli
from opsbook.incidents import cli as incidents_cli
from opsbook.incidents.postmortems import cli as postmortems_cli
from opsbook.incidents.reports import cli as reports_cli
from opsbook.oncall import cli as oncall_cli
from opsbook.server import run_server, run_worker
from opsbook.status import cli as status_cli

app = typer.Typer(
    name="opsbook",
    help="Opsbook: self-hosted incident response and operations. Your runbook, running.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("init")(config_cli.init)
app.command("check")(config_cli.check)
app.command("demo")(demo_cli.demo)
app.add_typer(core_cli.db_app, name="db")
app.add_typer(core_cli.token_app, name="token")
app.add_typer(core_cli.user_app, name="user")
app.add_typer(core_cli.jobs_app, name="jobs")
app.add_typer(core_cli.outbox_app, name="outbox")
app.add_typer(checks_cli.checks_app, name="checks")
app.add_typer(incidents_cli.incident_app, name="incident")
app.add_typer(status_cli.status_app, name="status")
app.add_typer(postmortems_cli.postmortem_app, name="postmortem")
app.add_typer(postmortems_cli.action_items_app, name="action-items")
app.command("report")(reports_cli.report)
app.add_typer(oncall_cli.oncall_app, name="oncall")
app.add_typer(rules_cli.rules_app, name="rules")
app.add_typer(alerts_cli.alerts_app, name="alerts")
app.add_typer(alerts_cli.silence_app, name="silence")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"opsbook {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Opsbook: self-hosted incident response and operations. Your runbook, running."""


@app.command()
def serve(
    config: Path | None = ConfigOption,
    listen: str | None = typer.Option(
        None, "--listen", "-l", envvar="OPSBOOK_LISTEN", help="HOST:PORT (default 127.0.0.1:8080)."
    ),
    database: str | None = DatabaseOption,
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Serve HTTP only; run `opsbook worker` processes separately."
    ),
) -> None:
    """Run Opsbook: HTTP (API, web, status page, inbound) and, unless --no-worker, the worker.

    Migrates the database on start. SIGTERM drains: in-flight work finishes, then the
    process exits. SIGHUP reloads opsbook.yaml.
    """
    settings = settings_from(database=database, config=config, listen=listen)
    run_server(settings, with_worker=not no_worker)


@app.command()
def worker(config: Path | None = ConfigOption, database: str | None = DatabaseOption) -> None:
    """Run a worker only: checks, due jobs and notification deliveries. Run as many as needed.

    SIGTERM drains; SIGHUP reloads opsbook.yaml.
    """
    run_worker(settings_from(database=database, config=config))


def main(argv: Any = None) -> None:
    """Entry point of the ``opsbook`` script."""
    app(args=argv)
