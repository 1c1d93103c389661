"""Sub-commands for the platform itself: db, token, user, jobs, outbox."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from opsbook.core import auth, jobs, outbox
from opsbook.core.clihelp import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    fail,
    load_config_or_exit,
    open_database,
    print_rows,
)
from opsbook.core.clock import SystemClock
from opsbook.core.migrate import current_revision, head_revision, upgrade

db_app = typer.Typer(help="Database schema: migrate and inspect.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (viewer, responder, admin).", no_args_is_help=True)
user_app = typer.Typer(help="Web logins for people from opsbook.yaml.", no_args_is_help=True)
jobs_app = typer.Typer(help="Durable jobs: inspect, retry dead ones.", no_args_is_help=True)
outbox_app = typer.Typer(help="Outgoing notifications: inspect, retry.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(database: str | None = DatabaseOption) -> None:
    """Apply all migrations (serve and worker also do this on start)."""
    with open_database(database, migrate=False) as db:
        before = current_revision(db.engine)
        upgrade(db.engine)
        after = current_revision(db.engine)
        console.print(f"database at revision [bold]{after}[/] (was {before or 'empty'})")


@db_app.command("current")
def db_current(database: str | None = DatabaseOption, as_json: bool = JsonOption) -> None:
    """Show the schema revision of the database and of this Opsbook."""
    with open_database(database, migrate=False) as db:
        row = {"database": current_revision(db.engine), "code": head_revision()}
        print_rows([row], columns=["database", "code"], as_json=as_json)


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., "--name", help="What uses this token, e.g. prometheus."),
    role: str = typer.Option(..., "--role", help="viewer, responder or admin."),
    database: str | None = DatabaseOption,
) -> None:
    """Create a token and print it once (only its hash is kept)."""
    if role not in auth.ROLES:
        fail(f"--role must be one of {', '.join(auth.ROLES)}, got {role!r}", code=2)
    with open_database(database) as db:
        try:
            with db.session() as session, session.begin():
                _token, raw = auth.create_token(
                    session,
                    name=name,
                    role=role,
                    now=SystemClock().now(),
                )
        except auth.AuthError as exc:
            fail(str(exc), code=2)
        console.print(
            f"token [bold]{name}[/] ({role}) created; it is shown only now:", highlight=False
        )
        sys.stdout.write(raw + "\n")


@token_app.command("list")
def token_list(database: str | None = DatabaseOption, as_json: bool = JsonOption) -> None:
    """List tokens (never their secrets)."""
    with open_database(database) as db:
        with db.read_session() as session:
            rows = [
                _row(t, "name", "role", "prefix", "created_at", "last_used_at", "revoked_at")
                for t in auth.list_tokens(session)
            ]
        print_rows(
            rows,
            columns=["name", "role", "prefix", "created_at", "last_used_at", "revoked_at"],
            as_json=as_json,
        )


@token_app.command("revoke")
def token_revoke(
    name: str = typer.Argument(..., help="The token's name."), database: str | None = DatabaseOption
) -> None:
    """Revoke a token at once."""
    with open_database(database) as db:
        with db.session() as session, session.begin():
            if not auth.revoke_token(session, name=name, now=SystemClock().now()):
                fail(f"no active token named {name!r}")
        console.print(f"token {name} revoked")


@user_app.command("set-password")
def user_set_password(
    person_id: str = typer.Argument(..., help="The person's id in people:."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Set (or reset) a person's web password; ends their open sessions."""
    loaded = load_config_or_exit(config)
    if not any(p.id == person_id for p in loaded.people):
        known = ", ".join(p.id for p in loaded.people) or "none"
        fail(f"no person {person_id!r} in people: (known: {known})", code=2)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_database(database) as db:
        try:
            with db.session() as session, session.begin():
                auth.set_password(
                    session, person_id=person_id, password=password, now=SystemClock().now()
                )
        except auth.AuthError as exc:
            fail(str(exc), code=2)
        console.print(f"password set for {person_id}")


@jobs_app.command("list")
def jobs_list(
    status: str | None = typer.Option(None, help="pending, running, done, dead or cancelled."),
    kind: str | None = typer.Option(None, help="Only jobs of this kind."),
    limit: int = typer.Option(50, min=1, max=1000),
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """List jobs, newest first; dead ones show their last error."""
    if status is not None and status not in jobs.JOB_STATUSES:
        fail(f"--status must be one of {', '.join(jobs.JOB_STATUSES)}", code=2)
    with open_database(database) as db:
        columns = ["id", "kind", "key", "status", "run_at", "attempts", "last_error"]
        with db.read_session() as session:
            rows = [
                _row(j, *columns)
                for j in jobs.list_jobs(session, status=status, kind=kind, limit=limit)
            ]
        print_rows(rows, columns=columns, as_json=as_json, title="jobs")


@jobs_app.command("retry")
def jobs_retry(
    job_id: int = typer.Argument(..., help="Id of a dead job."),
    database: str | None = DatabaseOption,
) -> None:
    """Give a dead job a fresh set of attempts."""
    with open_database(database) as db:
        with db.session() as session, session.begin():
            if not jobs.retry_dead(session, job_id=job_id, now=SystemClock().now()):
                fail(f"no dead job with id {job_id}")
        console.print(f"job {job_id} will run again")


@outbox_app.command("list")
def outbox_list(
    status: str | None = typer.Option(None, help="pending, sending, delivered or dead."),
    limit: int = typer.Option(50, min=1, max=1000),
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """List notifications, newest first."""
    if status is not None and status not in outbox.NOTIFICATION_STATUSES:
        fail(f"--status must be one of {', '.join(outbox.NOTIFICATION_STATUSES)}", code=2)
    with open_database(database) as db:
        columns = [
            "id",
            "channel",
            "target",
            "status",
            "attempts",
            "created_at",
            "delivered_at",
            "last_error",
        ]
        with db.read_session() as session:
            rows = [
                _row(n, *columns)
                for n in outbox.list_notifications(session, status=status, limit=limit)
            ]
        print_rows(rows, columns=columns, as_json=as_json, title="outbox")


@outbox_app.command("retry")
def outbox_retry(
    notification_id: int = typer.Argument(..., help="Id of a dead notification."),
    database: str | None = DatabaseOption,
) -> None:
    """Send a dead notification again."""
    with open_database(database) as db:
        with db.session() as session, session.begin():
            if not outbox.retry_dead(
                session, notification_id=notification_id, now=SystemClock().now()
            ):
                fail(f"no dead notification with id {notification_id}")
        console.print(f"notification {notification_id} queued again")


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}
