"""What the incident, postmortem and report commands share: options, the actor, refusals.

Commands act on the database directly, as ``opsbook jobs`` does, so they work with the
server down.  Who acted is ``--as PERSON`` (a person id from ``people:``), recorded as
``person:<id>``, or else ``cli:<login name>``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.orm import Session

from opsbook import incidents
from opsbook.config import OpsbookConfig
from opsbook.core.clihelp import console, fail, load_config_or_exit, open_database
from opsbook.core.clock import SystemClock
from opsbook.core.db import transaction
from opsbook.incidents.errors import IncidentError, IncidentNotFound, TransitionNotAllowed
from opsbook.incidents.models import Incident

incident_app = typer.Typer(
    help="Incidents: open, list, show, acknowledge, move, assign, note, resolve, close, "
    "and the record: timeline, output, checklist, impact, merge.",
    no_args_is_help=True,
)

NumberArgument = typer.Argument(..., help="The incident's number (#42 is 42).", show_default=False)
AsOption = typer.Option(
    None,
    "--as",
    help="Act as this person from people: (default: cli:$USER).",
    show_default=False,
)
ReasonOption = typer.Option("", "--reason", "-r", help="Why; kept in the timeline.")


def actor(loaded: OpsbookConfig, as_person: str | None) -> str:
    if as_person is None:
        user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
        return f"cli:{user}"
    if loaded.find_person(as_person) is None:
        known = ", ".join(p.id for p in loaded.people) or "none"
        fail(f"no person {as_person!r} in people: (known: {known})", code=2)
    return f"person:{as_person}"


@contextmanager
def refusals() -> Iterator[None]:
    """The service's refusals are usage errors: exit 2 with its message."""
    try:
        yield
    except (IncidentNotFound, IncidentError, TransitionNotAllowed) as exc:
        message = exc.args[0] if exc.args else str(exc)
        fail(str(message), code=2)


def act(
    number: int,
    *,
    config: Path | None,
    database: str | None,
    as_person: str | None,
    action: Callable[[Session, OpsbookConfig, int, str, datetime], Any],
) -> Incident:
    """Run one change on incident ``number`` in one transaction; return the incident."""
    loaded = load_config_or_exit(config)
    by = actor(loaded, as_person)
    with open_database(database) as db, refusals(), transaction(db.session) as session:
        incident = incidents.get_incident(session, number=number)
        action(session, loaded, incident.id, by, SystemClock().now())
        session.refresh(incident)
        return incident


def when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def done(incident: Incident, what: str) -> None:
    console.print(f"#{incident.number} {what}", highlight=False)
