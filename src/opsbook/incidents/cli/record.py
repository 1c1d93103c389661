"""``opsbook incident``: the record beyond the lifecycle.

Timeline, attached output, checklist, impact, roles given up, and merges.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.config import OpsbookConfig
from opsbook.core.clihelp import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    fail,
    open_database,
    print_rows,
)
from opsbook.incidents.cli.common import (
    AsOption,
    NumberArgument,
    ReasonOption,
    act,
    done,
    incident_app,
    refusals,
)
from opsbook.incidents.schemas import ChecklistItemOut, EventOut
from opsbook.incidents.timeline import EVENT_KINDS


@incident_app.command("timeline")
def incident_timeline(
    number: int = NumberArgument,
    kind: list[str] = typer.Option([], "--kind", "-k", help="Only entries of this kind; repeat."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """The timeline in the order it was written: time, kind, who, what."""
    unknown = sorted(set(kind) - set(EVENT_KINDS))
    if unknown:
        fail(f"unknown kind {unknown[0]!r}; expected one of {', '.join(EVENT_KINDS)}", code=2)
    with open_database(database) as db, refusals(), db.read_session() as session:
        incident = incidents.get_incident(session, number=number)
        entries = [
            EventOut.model_validate(e).model_dump()
            for e in incidents.timeline(session, incident_id=incident.id, kinds=kind or None)
        ]
    print_rows(entries, columns=["id", "at", "kind", "actor", "body"], as_json=as_json)


@incident_app.command("output")
def incident_output(
    number: int = NumberArgument,
    file: Path | None = typer.Argument(
        None, help="A file with the output; '-' or nothing reads standard input."
    ),
    label: str = typer.Option(..., "--label", "-l", help="What it is, e.g. the command run."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Attach command or check output, kept verbatim (cut past 64,000 characters).

    kubectl get pods | opsbook incident output 42 --label "kubectl get pods"
    """
    if file is None or str(file) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", code=2)
    if not text.strip():
        fail("the output is empty; nothing attached", code=2)
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: incidents.attach_output(
            session, incident_id=incident_id, text=text, label=label, by=by, now=now
        ),
    )
    done(incident, f": output attached ({len(text):,} characters)")


@incident_app.command("checklist")
def incident_checklist(
    number: int = NumberArgument,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """The response checklist: position, item, and who ticked it when."""
    with open_database(database) as db, refusals(), db.read_session() as session:
        incident = incidents.get_incident(session, number=number)
        rows = [
            {
                "done": "✓" if item.done_at else "☐",
                **ChecklistItemOut.model_validate(item).model_dump(),
            }
            for item in incidents.checklist(session, incident_id=incident.id)
        ]
    if as_json:
        for row in rows:
            row.pop("done")
    print_rows(rows, columns=["done", "position", "item", "done_by", "done_at"], as_json=as_json)


@incident_app.command("tick")
def incident_tick(
    number: int = NumberArgument,
    item: str = typer.Argument(..., help="The item's position (1, 2, ...) or its text."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Tick a checklist item; ticking a done item changes nothing and says who did."""
    wanted: int | str = int(item) if item.isdigit() else item
    ticks: list[incidents.ChecklistTick] = []
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: ticks.append(
            incidents.tick_checklist(session, incident_id=incident_id, item=wanted, by=by, now=now)
        ),
    )
    [tick] = ticks
    done(incident, f': "{tick.item}" {tick.message}')


@incident_app.command("impact")
def incident_impact(
    number: int = NumberArgument,
    component: list[str] = typer.Option(
        [], "--component", help="An affected component; repeat. Replaces the list."
    ),
    users_affected: int | None = typer.Option(
        None, "--users-affected", min=0, help="An estimate of the users affected."
    ),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Set the affected components and/or the users-affected estimate (absent: kept)."""
    if not component and users_affected is None:
        fail("give --component and/or --users-affected", code=2)
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: incidents.set_impact(
            session,
            incident_id=incident_id,
            components=component or None,
            users_affected=users_affected,
            by=by,
            now=now,
        ),
    )
    users = "unknown" if incident.users_affected is None else f"{incident.users_affected:,}"
    done(incident, f": components {', '.join(incident.components) or 'none'}; users {users}")


@incident_app.command("unassign")
def incident_unassign(
    number: int = NumberArgument,
    role: str = typer.Argument(..., help=f"One of: {', '.join(incidents.ROLES)}."),
    person: str = typer.Argument(..., help="Who gives the role up."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Take a role from a person (the timeline records it)."""
    incident = act(
        number,
        config=config,
        database=database,
        as_person=as_person,
        action=lambda session, _config, incident_id, by, now: incidents.remove_role(
            session, incident_id=incident_id, role=role, person=person, by=by, now=now
        ),
    )
    done(incident, f": {person} is no longer {role}")


@incident_app.command("merge")
def incident_merge(
    number: int = NumberArgument,
    into: int = typer.Option(..., "--into", help="The number of the incident to keep."),
    reason: str = ReasonOption,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Merge a duplicate into the incident people keep working on; the duplicate closes."""
    kept: list[int] = []

    def merge(
        session: Session, _config: OpsbookConfig, incident_id: int, by: str, now: datetime
    ) -> None:
        target = incidents.get_incident(session, number=into)
        incidents.merge(
            session, source_id=incident_id, into_id=target.id, reason=reason, by=by, now=now
        )
        kept.append(target.number)

    incident = act(number, config=config, database=database, as_person=as_person, action=merge)
    console.print(f"#{incident.number} merged into #{kept[0]}", highlight=False)
