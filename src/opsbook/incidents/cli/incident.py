"""``opsbook incident``: open, list, show and work an incident from a terminal."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from opsbook import incidents
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
from opsbook.core.db import transaction
from opsbook.incidents.cli.common import (
    AsOption,
    NumberArgument,
    ReasonOption,
    act,
    actor,
    done,
    incident_app,
    refusals,
    when,
)
from opsbook.incidents.schemas import EventOut, incident_detail, incident_out


@incident_app.command("open")
def incident_open(
    title: str = typer.Argument(..., help="What is wrong, in a line."),
    severity: str = typer.Option(..., "--severity", "-s", help="P0, P1, P2 or P3."),
    service: str | None = typer.Option(None, help="Default: service.name from opsbook.yaml."),
    summary: str = typer.Option("", help="What is known so far (markdown)."),
    component: list[str] = typer.Option([], "--component", help="An affected component; repeat."),
    users_affected: int | None = typer.Option(None, "--users-affected", min=0),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Open an incident: its checklist, response targets and notifications come with it."""
    loaded = load_config_or_exit(config)
    by = actor(loaded, as_person)
    with open_database(database) as db, refusals(), transaction(db.session) as session:
        incident = incidents.open_incident(
            session,
            config=loaded,
            title=title,
            severity=severity,
            service=service,
            summary=summary,
            components=component,
            users_affected=users_affected,
            source="cli",
            by=by,
            now=SystemClock().now(),
        )
        detail = incident_detail(session, incident)
    if as_json:
        sys.stdout.write(detail.model_dump_json(indent=2) + "\n")
        return
    console.print(
        f"opened incident [bold]#{detail.number}[/] [{detail.severity}] {detail.title} "
        f"(channel {detail.channel_name})",
        highlight=False,
    )


@incident_app.command("list")
def incident_list(
    status: str | None = typer.Option(None, help="Only incidents with this status."),
    severity: str | None = typer.Option(None, help="Only incidents with this severity."),
    service: str | None = typer.Option(None, help="Only incidents of this service."),
    open_only: bool = typer.Option(False, "--open", help="Only incidents not resolved or closed."),
    limit: int = typer.Option(50, min=1, max=1000),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """List incidents, newest first."""
    if status is not None and status not in incidents.STATUSES:
        fail(f"--status must be one of {', '.join(incidents.STATUSES)}", code=2)
    with open_database(database) as db, db.read_session() as session:
        rows = [
            incident_out(session, incident).model_dump(mode="json")
            for incident in incidents.list_incidents(
                session,
                status=status,
                severity=severity,
                service=service,
                open_only=open_only,
                limit=limit,
            )
        ]
    columns = ["number", "severity", "status", "title", "service", "triggered_at"]
    for row in rows:
        row["triggered_at"] = datetime.fromisoformat(row["triggered_at"])
    print_rows(rows, columns=columns, as_json=as_json, title="incidents")


@incident_app.command("show")
def incident_show(
    number: int = NumberArgument,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """The incident: header, roles, checklist with ticks, and the timeline with times."""
    with open_database(database) as db, refusals(), db.read_session() as session:
        incident = incidents.get_incident(session, number=number)
        detail = incident_detail(session, incident)
        entries = [
            EventOut.model_validate(e) for e in incidents.timeline(session, incident_id=incident.id)
        ]
    if as_json:
        body = detail.model_dump(mode="json")
        body["timeline"] = [entry.model_dump(mode="json") for entry in entries]
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    console.print(
        f"[bold]#{detail.number}[/] [{detail.severity}] {detail.title} — [bold]{detail.status}[/]",
        highlight=False,
    )
    console.print(
        f"service {detail.service or '-'} · channel {detail.channel_name} · "
        f"triggered {when(detail.triggered_at)} by {detail.created_by}",
        highlight=False,
    )
    if detail.summary:
        console.print(detail.summary, highlight=False, markup=False)
    if detail.merged_into is not None:
        console.print(f"merged into #{detail.merged_into}", highlight=False)
    print_rows(
        [r.model_dump() for r in detail.roles],
        columns=["role", "person", "assigned_at", "assigned_by"],
        as_json=False,
        title="roles",
    )
    checklist = Table(title="checklist")
    for column in ("", "#", "item", "done by", "done at"):
        checklist.add_column(column)
    for item in detail.checklist:
        done = item.done_at is not None
        checklist.add_row(
            "✓" if done else "☐",
            str(item.position),
            item.item,
            item.done_by or "",
            when(item.done_at) if item.done_at else "",
        )
    console.print(checklist)
    print_rows(
        [e.model_dump() for e in entries],
        columns=["at", "kind", "actor", "body"],
        as_json=False,
        title="timeline",
    )


@incident_app.command("ack")
def incident_ack(
    number: int = NumberArgument,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Acknowledge; on an incident past triggered this changes nothing."""
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: incidents.acknowledge(
            session, incident_id=incident_id, by=by, now=now
        ),
    )
    done(incident, f"is {incident.status}")


@incident_app.command("status")
def incident_status(
    number: int = NumberArgument,
    to: str = typer.Argument(..., help=f"One of: {', '.join(incidents.STATUSES)}."),
    reason: str = ReasonOption,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Move the incident as the transition table allows (docs/incidents.md)."""
    if to not in incidents.STATUSES:
        fail(f"unknown status {to!r}; expected one of {', '.join(incidents.STATUSES)}", code=2)
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, loaded, incident_id, by, now: incidents.set_status(
            session, config=loaded, incident_id=incident_id, to=to, reason=reason, by=by, now=now
        ),
    )
    done(incident, f"is {incident.status}")


@incident_app.command("severity")
def incident_severity(
    number: int = NumberArgument,
    severity: str = typer.Argument(..., help="P0, P1, P2 or P3."),
    reason: str = ReasonOption,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Change the severity; response targets move to the new level's."""
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, loaded, incident_id, by, now: incidents.change_severity(
            session,
            config=loaded,
            incident_id=incident_id,
            severity=severity,
            reason=reason,
            by=by,
            now=now,
        ),
    )
    done(incident, f"is {incident.severity}")


@incident_app.command("assign")
def incident_assign(
    number: int = NumberArgument,
    role: str = typer.Argument(..., help=f"One of: {', '.join(incidents.ROLES)}."),
    person: str = typer.Argument(..., help="Who takes the role."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Give a person a role; a commander, communications lead or scribe is replaced."""
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: incidents.assign_role(
            session, incident_id=incident_id, role=role, person=person, by=by, now=now
        ),
    )
    done(incident, f": {person} is {role}")


@incident_app.command("note")
def incident_note(
    number: int = NumberArgument,
    markdown: str = typer.Argument(..., help="The note, in markdown."),
    corrects: int | None = typer.Option(None, help="Id of an earlier entry this corrects."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Add a note to the timeline."""
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: incidents.add_note(
            session, incident_id=incident_id, markdown=markdown, corrects=corrects, by=by, now=now
        ),
    )
    done(incident, ": note added")


@incident_app.command("resolve")
def incident_resolve(
    number: int = NumberArgument,
    reason: str = ReasonOption,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Resolve; on a resolved or closed incident this changes nothing."""
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: incidents.resolve(
            session, incident_id=incident_id, reason=reason, by=by, now=now
        ),
    )
    done(incident, f"is {incident.status}")


@incident_app.command("close")
def incident_close(
    number: int = NumberArgument,
    reason: str = ReasonOption,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Close a resolved incident."""
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, loaded, incident_id, by, now: incidents.set_status(
            session,
            config=loaded,
            incident_id=incident_id,
            to="closed",
            reason=reason,
            by=by,
            now=now,
        ),
    )
    done(incident, f"is {incident.status}")
