"""``opsbook status``: post public updates, set overrides, schedule maintenance, serve.

Commands work on the database directly (as ``opsbook incident`` does), so they work
with the server down; the public page follows within a second of the change.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from opsbook.config import OpsbookConfig
from opsbook.core.clihelp import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    fail,
    load_config_or_exit,
    open_database,
    print_rows,
    settings_from,
)
from opsbook.core.clock import SystemClock
from opsbook.core.db import Database, transaction
from opsbook.status import service
from opsbook.status.config import PUBLIC_STATUSES
from opsbook.status.models import StatusIncident
from opsbook.status.snapshot import SnapshotKeeper
from opsbook.status.state import read_state

status_app = typer.Typer(
    help="The public status page: public updates, components, maintenance, the page server.",
    no_args_is_help=True,
)
maintenance_app = typer.Typer(
    help="Scheduled maintenance shown on the status page.", no_args_is_help=True
)
status_app.add_typer(maintenance_app, name="maintenance")
AsOption = typer.Option(None, "--as", help="Act as this person from people: (default cli:$USER).")


def _actor(loaded: OpsbookConfig, as_person: str | None) -> str:
    if as_person is None:
        return f"cli:{os.environ.get('USER') or 'unknown'}"
    if loaded.find_person(as_person) is None:
        fail(f"no person {as_person!r} in people:", code=2)
    return f"person:{as_person}"


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except (service.StatusError, service.StatusNotFound) as exc:
        fail(str(exc.args[0] if exc.args else exc), code=2)


def _when(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be an ISO 8601 time like 2026-12-01T02:00:00Z, got {text!r}", code=2)
    if value.tzinfo is None:
        fail(f"{option} needs a zone, e.g. 2026-12-01T02:00:00Z", code=2)
    return value


@status_app.command("update")
def update(
    incident: int = typer.Argument(..., help="The internal incident's number (#42 is 42)."),
    state: str = typer.Option(
        ..., "--state", "-s", help="investigating, identified, monitoring, resolved or postmortem."
    ),
    message: str | None = typer.Option(
        None,
        "--message",
        "-m",
        help="What customers read; default: the configured wording for --state.",
    ),
    component: list[str] = typer.Option(
        [],
        "--component",
        help="COMPONENT=STATUS, e.g. "
        "api=partial_outage; repeat. Default: the incident's "
        "affected components.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="The public title (default from status_page.wording.title)."
    ),
    no_notify: bool = typer.Option(False, "--no-notify", help="Do not tell subscribers."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Post a public update from an internal incident (publishing its draft, if any)."""
    if state not in PUBLIC_STATUSES:
        fail(f"--state must be one of {', '.join(PUBLIC_STATUSES)}", code=2)
    loaded = load_config_or_exit(config)
    by = _actor(loaded, as_person)
    with open_database(database) as db, _refusals(), transaction(db.session) as session:
        statuses = service.parse_component_statuses(loaded, component) if component else None
        entry = service.post_for_incident(
            session,
            config=loaded,
            number=incident,
            status=state,
            body=message,
            component_statuses=statuses,
            name=name,
            notify=not no_notify,
            by=by,
            now=SystemClock().now(),
        )
        public = session.get(StatusIncident, entry.status_incident_id)
        assert public is not None
        out = {
            "incident": public.code,
            "update": entry.code,
            "status": entry.status,
            "body": entry.body,
            "components": entry.component_statuses,
        }
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    console.print(
        f"posted [bold]{out['status']}[/] to public incident {out['incident']}: {out['body']}",
        highlight=False,
    )


@status_app.command("publish")
def publish_draft(
    code: str = typer.Argument(..., help="The public incident's id (from `opsbook status list`)."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Publish a draft public incident (one the status_page target prepared)."""
    loaded = load_config_or_exit(config)
    with open_database(database) as db, _refusals(), transaction(db.session) as session:
        service.publish(session, code=code, by=_actor(loaded, as_person), now=SystemClock().now())
    console.print(f"published {code}")


@status_app.command("list")
def list_public(
    drafts: bool = typer.Option(False, "--drafts", help="Only drafts awaiting a person."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Public incidents, newest first."""
    with open_database(database) as db, db.read_session() as session:
        rows = service.public_incidents(session, published=False if drafts else None, limit=50)
        out = [
            {
                "id": r.code,
                "name": r.name,
                "status": r.status,
                "impact": r.impact,
                "published_at": r.published_at,
                "incident_id": r.incident_id,
            }
            for r in rows
        ]
    print_rows(out, columns=["id", "name", "status", "impact", "published_at"], as_json=as_json)


@status_app.command("components")
def components(
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Every component's status and where it comes from (override, incident, checks...)."""
    loaded = load_config_or_exit(config)
    with open_database(database) as db, db.read_session() as session:
        state = read_state(session, config=loaded, now=SystemClock().now())
    rows: list[dict[str, Any]] = [
        {
            "id": c.component.id,
            "name": c.component.name,
            "group": c.component.group,
            "status": c.status,
            "source": c.source,
            "uptime_90d": state.uptime[c.component.id],
        }
        for c in state.components
    ]
    print_rows(
        rows, columns=["id", "name", "group", "status", "source", "uptime_90d"], as_json=as_json
    )


@status_app.command("override")
def override(
    component: str = typer.Argument(..., help="A component's id or name."),
    status: str = typer.Argument(
        ...,
        help="operational, degraded_performance, partial_outage, "
        "major_outage or under_maintenance; `clear` removes it.",
    ),
    reason: str = typer.Option("", "--reason", "-r"),
    until: str | None = typer.Option(None, "--until", help="ISO 8601 time it expires."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Set a component's status by hand; it wins over checks, incidents and maintenance."""
    loaded = load_config_or_exit(config)
    with open_database(database) as db, _refusals(), transaction(db.session) as session:
        if status == "clear":
            found = service.clear_override(session, config=loaded, component=component)
            console.print("override cleared" if found else "no override was set")
            return
        service.set_override(
            session,
            config=loaded,
            component=component,
            status=status,
            reason=reason,
            expires_at=_when(until, "--until") if until else None,
            by=_actor(loaded, as_person),
            now=SystemClock().now(),
        )
    console.print(f"{component} is {status} until cleared" + (f" or {until}" if until else ""))


@maintenance_app.command("schedule")
def maintenance_schedule(
    name: str = typer.Argument(...),
    starts: str = typer.Option(..., "--starts", help="ISO 8601, e.g. 2026-12-01T02:00:00Z"),
    ends: str = typer.Option(..., "--ends"),
    component: list[str] = typer.Option([], "--component", help="Affected component; repeat."),
    message: str = typer.Option("We will be performing scheduled maintenance.", "--message"),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Announce a maintenance window; its components show under maintenance during it."""
    loaded = load_config_or_exit(config)
    with open_database(database) as db, _refusals(), transaction(db.session) as session:
        row = service.schedule_maintenance(
            session,
            config=loaded,
            name=name,
            starts=_when(starts, "--starts"),
            ends=_when(ends, "--ends"),
            components=component,
            body=message,
            by=_actor(loaded, as_person),
            now=SystemClock().now(),
        )
        code = row.code
    console.print(f"scheduled maintenance {code}")


@maintenance_app.command("complete")
def maintenance_complete(
    code: str = typer.Argument(...),
    cancel: bool = typer.Option(False, "--cancel", help="Cancel rather than complete."),
    message: str = typer.Option("", "--message"),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """End a maintenance now (or cancel it)."""
    loaded = load_config_or_exit(config)
    with open_database(database) as db, _refusals(), transaction(db.session) as session:
        service.complete_maintenance(
            session,
            code=code,
            body=message,
            cancel=cancel,
            by=_actor(loaded, as_person),
            now=SystemClock().now(),
        )
    console.print(f"maintenance {code} {'cancelled' if cancel else 'completed'}")


@maintenance_app.command("list")
def maintenance_list(
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Scheduled maintenances, newest start first."""
    now = SystemClock().now()
    with open_database(database) as db, db.read_session() as session:
        rows = [
            {
                "id": m.code,
                "name": m.name,
                "status": service.maintenance_status(m, now=now),
                "starts": m.scheduled_for,
                "ends": m.scheduled_until,
            }
            for m in service.maintenances(session)
        ]
    print_rows(rows, columns=["id", "name", "status", "starts", "ends"], as_json=as_json)


@status_app.command("serve")
def serve(
    listen: str = typer.Option("127.0.0.1:8081", "--listen", "-l", help="HOST:PORT."),
    processes: int = typer.Option(
        1, "--processes", "-p", min=1, max=64, help="Processes sharing the port (SO_REUSEPORT)."
    ),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Serve the public status site alone, from the snapshot, as fast as it goes.

    Serves the page at / and /status, the Statuspage JSON under /api/v2/, the feeds and
    badges. Form posts and links go to settings.public_url with a 307. Run it on the
    status host (status.example.com) next to `opsbook serve`, against the same database.
    """
    from opsbook.core.logging import configure_logging
    from opsbook.core.migrate import upgrade
    from opsbook.status.fastserve import run_processes

    settings = settings_from(database=database, config=config)
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    host, _, port_text = listen.rpartition(":")
    if not port_text.isdigit():
        fail(f"--listen must be HOST:PORT, got {listen!r}", code=2)
    loaded = load_config_or_exit(config)
    db = Database.connect(settings.database_url)
    upgrade(db.engine)
    db.dispose()

    def make_keeper() -> SnapshotKeeper:
        return SnapshotKeeper(
            db=Database.connect(settings.database_url),
            clock=SystemClock(),
            config=lambda: loaded,
            owner=f"status-serve-{os.getpid()}",
        )

    run_processes(
        make_keeper,
        host=host or "127.0.0.1",
        port=int(port_text),
        processes=processes,
        redirect_base=loaded.settings.public_url,
    )
