"""``opsbook postmortem`` and ``opsbook action-items``: write up an incident from a terminal.

Like ``opsbook incident``, the commands work on the database directly and record who
acted as ``--as PERSON`` (``person:<id>``) or ``cli:$USER``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import click
import typer
from rich.markdown import Markdown
from sqlalchemy.orm import Session

from opsbook import incidents
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
)
from opsbook.core.clock import SystemClock
from opsbook.core.db import transaction
from opsbook.incidents.cli.common import AsOption, NumberArgument, actor, refusals
from opsbook.incidents.postmortems import action_items, export, service
from opsbook.incidents.postmortems.models import Postmortem
from opsbook.incidents.postmortems.schemas import (
    action_items_out,
    postmortem_detail,
    postmortem_out,
)
from opsbook.incidents.postmortems.state import ACTION_ITEM_STATUSES, POSTMORTEM_STATUSES
from opsbook.incidents.postmortems.template import SECTION_KEYS

postmortem_app = typer.Typer(
    help="Postmortems: draft one from an incident's record, write its sections, publish, "
    "close, export.",
    no_args_is_help=True,
)
action_items_app = typer.Typer(
    help="Action items from postmortems: add, list across incidents, change, finish.",
    no_args_is_help=True,
)
T = TypeVar("T")
_SECTIONS = ", ".join(SECTION_KEYS)


def _change(
    config: Path | None,
    database: str | None,
    as_person: str | None,
    action: Callable[[Session, OpsbookConfig, str], T],
) -> T:
    loaded = load_config_or_exit(config)
    by = actor(loaded, as_person)
    with open_database(database) as db, refusals(), transaction(db.session) as session:
        return action(session, loaded, by)


def _postmortem_of(session: Session, number: int) -> Postmortem:
    incident = incidents.get_incident(session, number=number)
    return service.get_postmortem(session, incident_id=incident.id)


@postmortem_app.command("draft")
def postmortem_draft(
    number: int = NumberArgument,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Draft the postmortem of a resolved incident: facts from its record, prompts for the rest."""

    def draft(session: Session, loaded: OpsbookConfig, by: str) -> str:
        incident = incidents.get_incident(session, number=number)
        postmortem = service.draft_postmortem(
            session, config=loaded, incident_id=incident.id, by=by, now=SystemClock().now()
        )
        unwritten = [
            s.key for s in service.sections(session, postmortem_id=postmortem.id) if s.prompt_only
        ]
        return ", ".join(unwritten)

    unwritten = _change(config, database, as_person, draft)
    console.print(f"drafted the postmortem of #{number}", highlight=False)
    if unwritten:
        console.print(
            f"to write before publishing: {unwritten} "
            f"(opsbook postmortem edit {number} SECTION ...)",
            highlight=False,
        )


@postmortem_app.command("show")
def postmortem_show(
    number: int = NumberArgument,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """The postmortem: status, due time, sections and action items."""
    loaded = load_config_or_exit(config)
    now = SystemClock().now()
    with open_database(database) as db, refusals(), db.read_session() as session:
        postmortem = _postmortem_of(session, number)
        if as_json:
            detail = postmortem_detail(session, postmortem, config=loaded, now=now)
            sys.stdout.write(detail.model_dump_json(indent=2) + "\n")
            return
        text = export.export(session, postmortem, fmt="markdown", config=loaded, now=now)
    console.print(Markdown(text))


@postmortem_app.command("edit")
def postmortem_edit(
    number: int = NumberArgument,
    section: str = typer.Argument(..., help=f"One of: {_SECTIONS}."),
    text: str | None = typer.Argument(
        None, help="The new text (markdown). Without it: --file, or your $EDITOR."
    ),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="Read the text from a file; '-' is stdin."
    ),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Replace a section's text; with neither TEXT nor --file, opens it in $EDITOR."""
    if section not in SECTION_KEYS:
        fail(f"unknown section {section!r}; expected one of {_SECTIONS}", code=2)
    if text is None and file is not None:
        text = sys.stdin.read() if str(file) == "-" else _read(file)
    if text is None:
        with open_database(database) as db, refusals(), db.read_session() as session:
            postmortem = _postmortem_of(session, number)
            current = next(
                s.body
                for s in service.sections(session, postmortem_id=postmortem.id)
                if s.key == section
            )
        text = click.edit(current, extension=".md")
        if text is None or text == current:
            console.print("no change", highlight=False)
            return
    new_text = text

    def write(session: Session, _loaded: OpsbookConfig, by: str) -> None:
        service.write_section(
            session,
            postmortem_id=_postmortem_of(session, number).id,
            key=section,
            markdown=new_text,
            by=by,
            now=SystemClock().now(),
        )

    _change(config, database, as_person, write)
    console.print(f"#{number} postmortem: {section} written", highlight=False)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", code=2)


def _move(
    number: int, to: str, config: Path | None, database: str | None, as_person: str | None
) -> None:
    def move(session: Session, _loaded: OpsbookConfig, by: str) -> None:
        service.set_postmortem_status(
            session,
            postmortem_id=_postmortem_of(session, number).id,
            to=to,
            by=by,
            now=SystemClock().now(),
        )

    _change(config, database, as_person, move)
    console.print(f"#{number} postmortem is {to}", highlight=False)


@postmortem_app.command("status")
def postmortem_status(
    number: int = NumberArgument,
    to: str = typer.Argument(..., help=f"One of: {', '.join(POSTMORTEM_STATUSES)}."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Move the postmortem: draft → in_review → published → closed (or back to draft)."""
    _move(number, to, config, database, as_person)


@postmortem_app.command("publish")
def postmortem_publish(
    number: int = NumberArgument,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Publish: the write-up is final. Needs the sections the draft left as questions."""
    _move(number, "published", config, database, as_person)


@postmortem_app.command("close")
def postmortem_close(
    number: int = NumberArgument,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Close a published postmortem whose action items are all done or cancelled."""
    _move(number, "closed", config, database, as_person)


@postmortem_app.command("export")
def postmortem_export(
    number: int = NumberArgument,
    fmt: str = typer.Option("markdown", "--format", help="markdown or json."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Export the postmortem as Markdown or JSON (secrets masked)."""
    if fmt not in export.EXPORT_FORMATS:
        fail(f"--format must be markdown or json, not {fmt!r}", code=2)
    loaded = load_config_or_exit(config)
    with open_database(database) as db, refusals(), db.read_session() as session:
        text = export.export(
            session,
            _postmortem_of(session, number),
            fmt=fmt,
            config=loaded,
            now=SystemClock().now(),
        )
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    console.print(f"wrote {output}", highlight=False)


@postmortem_app.command("list")
def postmortem_list(
    status: str | None = typer.Option(None, help=f"One of: {', '.join(POSTMORTEM_STATUSES)}."),
    overdue: bool = typer.Option(False, "--overdue", help="Only those past due, unpublished."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Postmortems across incidents, newest incident first, with their due times."""
    loaded = load_config_or_exit(config)
    now = SystemClock().now()
    with open_database(database) as db, db.read_session() as session:
        rows = [
            postmortem_out(p, i, config=loaded, now=now).model_dump()
            for p, i in service.list_postmortems(session, status=status)
        ]
    rows = [row for row in rows if row["overdue"]] if overdue else rows
    columns = ["incident", "severity", "status", "title", "due_at", "overdue", "published_at"]
    print_rows(rows, columns=columns, as_json=as_json, title="postmortems")


DueOption = typer.Option(..., "--due", help="The due day, YYYY-MM-DD.", show_default=False)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--due must be a date like 2026-03-31, not {text!r}", code=2)


@action_items_app.command("add")
def action_item_add(
    number: int = NumberArgument,
    title: str = typer.Argument(..., help="What is to be done."),
    owner: str = typer.Option(..., "--owner", help="A person id from people:."),
    due: str = DueOption,
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Add an action item to an incident's postmortem."""
    due_on = _day(due)

    def add(session: Session, loaded: OpsbookConfig, by: str) -> int:
        item = action_items.add_action_item(
            session,
            config=loaded,
            postmortem_id=_postmortem_of(session, number).id,
            title=title,
            owner=owner,
            due_on=due_on,
            by=by,
            now=SystemClock().now(),
        )
        return item.id

    item_id = _change(config, database, as_person, add)
    console.print(f"action item {item_id} added to #{number}, due {due_on}", highlight=False)


@action_items_app.command("list")
def action_item_list(
    overdue: bool = typer.Option(False, "--overdue", help="Only open items past their due day."),
    owner: str | None = typer.Option(None, "--owner", help="Only this person's items."),
    status: list[str] = typer.Option(
        [], "--status", help=f"Only these statuses ({', '.join(ACTION_ITEM_STATUSES)}); repeat."
    ),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Action items across incidents, soonest due first."""
    bad = sorted(set(status) - set(ACTION_ITEM_STATUSES))
    if bad:
        fail(
            f"unknown status {bad[0]!r}; expected one of {', '.join(ACTION_ITEM_STATUSES)}", code=2
        )
    loaded = load_config_or_exit(config)
    now = SystemClock().now()
    with open_database(database) as db, db.read_session() as session:
        items = action_items.list_action_items(
            session, config=loaded, now=now, status=status, owner=owner, overdue=overdue
        )
        found = action_items_out(session, items, config=loaded, now=now)
    if as_json:
        sys.stdout.write(json.dumps([i.model_dump(mode="json") for i in found], indent=2) + "\n")
        return
    rows = [i.model_dump() for i in found]
    columns = ["id", "incident", "title", "owner", "due_on", "status", "overdue"]
    print_rows(rows, columns=columns, as_json=as_json, title="action items")


@action_items_app.command("set")
def action_item_set(
    item_id: int = typer.Argument(..., help="The action item's id."),
    status: str | None = typer.Option(None, help=f"One of: {', '.join(ACTION_ITEM_STATUSES)}."),
    owner: str | None = typer.Option(None, help="A person id from people:."),
    due: str | None = typer.Option(None, "--due", help="A new due day, YYYY-MM-DD."),
    title: str | None = typer.Option(None, help="A new title."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Change an action item; a new due day, owner or status re-arms its reminder."""
    due_on = _day(due) if due is not None else None

    def change(session: Session, loaded: OpsbookConfig, by: str) -> str:
        item = action_items.change_action_item(
            session,
            config=loaded,
            item_id=item_id,
            title=title,
            owner=owner,
            due_on=due_on,
            status=status,
            by=by,
            now=SystemClock().now(),
        )
        return item.status

    now_status = _change(config, database, as_person, change)
    console.print(f"action item {item_id} is {now_status}", highlight=False)


@action_items_app.command("done")
def action_item_done(
    item_id: int = typer.Argument(..., help="The action item's id."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Mark an action item done."""
    action_item_set(
        item_id=item_id,
        status="done",
        owner=None,
        due=None,
        title=None,
        as_person=as_person,
        config=config,
        database=database,
    )
