"""``opsbook report``: MTTA, MTTR, counts, breaches and pages per person, as tables."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import typer
from rich.table import Table

from opsbook.core.clihelp import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    fail,
    load_config_or_exit,
    open_database,
)
from opsbook.core.clock import SystemClock
from opsbook.incidents.postmortems.template import span
from opsbook.incidents.reports.hours import BUCKET_LABELS, BUCKETS
from opsbook.incidents.reports.period import parse_period
from opsbook.incidents.reports.schemas import report_out
from opsbook.incidents.reports.service import GROUPINGS, GroupStats, incident_report


def _duration(value: timedelta | None) -> str:
    return "-" if value is None else span(value)


def _row(stats: GroupStats) -> list[str]:
    return [
        stats.key,
        str(stats.incidents),
        _duration(stats.mtta),
        _duration(stats.mttr),
        str(stats.breaches),
        str(stats.escalations),
    ]


def report(
    start: str | None = typer.Option(
        None, "--from", help="A date (service time zone) or date-time; default 30 days ago."
    ),
    end: str | None = typer.Option(
        None, "--to", help="A date (inclusive) or date-time (exclusive); default now."
    ),
    by: str | None = typer.Option(None, "--by", help="Group incidents by severity or service."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Incident report for a range: MTTA, MTTR, counts, response-target breaches, and
    pages per person in business hours, evenings and weekends, and sleep hours."""
    if by is not None and by not in GROUPINGS:
        fail(f"--by must be severity or service, not {by!r}", code=2)
    loaded = load_config_or_exit(config)
    try:
        since, until = parse_period(
            start, end, now=SystemClock().now(), zone=loaded.service.timezone
        )
    except ValueError as exc:
        fail(str(exc), code=2)
    with open_database(database) as db, db.read_session() as session:
        found = incident_report(session, config=loaded, start=since, end=until, by=by)
    if as_json:
        sys.stdout.write(report_out(found).model_dump_json(indent=2) + "\n")
        return
    zone = loaded.service.timezone
    title = (
        f"incidents triggered {since.astimezone(zone):%Y-%m-%d %H:%M} to "
        f"{until.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"
    )
    incidents_table = Table(title=title)
    for column in (by or "", "incidents", "MTTA", "MTTR", "breaches", "escalations"):
        incidents_table.add_column(column, justify="left" if column == (by or "") else "right")
    for group in found.groups:
        incidents_table.add_row(*_row(group))
    incidents_table.add_row(*_row(found.total), style="bold")
    console.print(incidents_table)
    pages = Table(title="pages per person (in their own time zone)")
    for column in ("person", "time zone", "pages", *(BUCKET_LABELS[b] for b in BUCKETS), "acks"):
        pages.add_column(column, justify="left" if column in ("person", "time zone") else "right")
    for person in found.people:
        pages.add_row(
            person.person,
            person.timezone,
            str(person.pages),
            *(str(getattr(person, bucket)) for bucket in BUCKETS),
            str(person.acknowledgements),
        )
    console.print(pages if found.people else "[dim]no pages in this range[/]")
