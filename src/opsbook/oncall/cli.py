"""``opsbook oncall``: who is on call, the final shifts, overrides and calendar URLs.

Commands read opsbook.yaml and the database directly, so they work with the server down.
Times are ISO 8601 (``2026-03-29T02:30``, ``2026-03-29T02:30+02:00``, ``...Z``); one
without an offset is read in the service's time zone.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

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
from opsbook.core.db import transaction
from opsbook.core.instance import stored_secret_key
from opsbook.oncall import service
from opsbook.oncall.links import feed_token
from opsbook.oncall.rotation import wall_to_instant
from opsbook.oncall.schemas import OverrideOut, layer_out, shift_out
from opsbook.oncall.service import OncallError

oncall_app = typer.Typer(
    help="On-call: who is on call now, the final shifts, overrides, calendar feeds.",
    no_args_is_help=True,
)
override_app = typer.Typer(help="One-off replacements in a schedule.", no_args_is_help=True)
oncall_app.add_typer(override_app, name="override")

ScheduleOption = typer.Option(None, "--schedule", "-s", help="Only this schedule.")
AsOption = typer.Option(None, "--as", help="Act as this person from people: (default: cli:$USER).")


def parse_time(text: str, config: OpsbookConfig, *, option: str) -> datetime:
    """An ISO 8601 time; without an offset it is wall-clock time in the service's zone."""
    if text == "now":
        return SystemClock().now()
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: expected a time like 2026-03-29T09:00 or ...+02:00, got {text!r}", code=2)
    if value.tzinfo is None:
        return wall_to_instant(value, config.service.timezone)
    return value


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except OncallError as exc:
        fail(str(exc), code=2)


def _actor(config: OpsbookConfig, as_person: str | None) -> str:
    if as_person is None:
        return f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"
    if config.find_person(as_person) is None:
        fail(f"no person {as_person!r} in people:", code=2)
    return f"person:{as_person}"


def _local(value: datetime, config: OpsbookConfig, zone: str | None = None) -> str:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone) if zone else config.service.timezone
    return value.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")


@oncall_app.command("now")
def now(
    at: str | None = typer.Option(None, "--at", help="Instead of now: an ISO 8601 time."),
    schedule: str | None = ScheduleOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Who is on call (now, or --at TIME): one row per layer of each schedule."""
    loaded = load_config_or_exit(config)
    instant = parse_time(at, loaded, option="--at") if at else SystemClock().now()
    with open_database(database) as db, _refusals(), db.read_session() as session:
        shifts = service.who_is_on_call(session, config=loaded, at=instant, schedule=schedule)
    rows = [shift_out(s, loaded).model_dump(mode="json") for s in shifts]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    zones = {s.name: service.zone_of(loaded, s).key for s in loaded.oncall.schedules}
    print_rows(
        [
            {
                "schedule": r["schedule"],
                "layer": r["layer"],
                "on_call": r["person_name"] or "— nobody (gap) —",
                "since": _local(s.start, loaded, zones[s.schedule]),
                "until": _local(s.end, loaded, zones[s.schedule]),
                "source": r["source"],
            }
            for r, s in zip(rows, shifts, strict=True)
        ],
        columns=["schedule", "layer", "on_call", "since", "until", "source"],
        as_json=False,
        title=f"On call at {_local(instant, loaded)}",
    )


@oncall_app.command("show")
def show(
    start: str | None = typer.Option(None, "--from", help="Default: now."),
    end: str | None = typer.Option(None, "--to", help="Default: 14 days after --from."),
    schedule: str | None = ScheduleOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """The final shifts (rotations, restrictions and overrides), gaps and coverage."""
    loaded = load_config_or_exit(config)
    begin = parse_time(start, loaded, option="--from") if start else SystemClock().now()
    finish = parse_time(end, loaded, option="--to") if end else begin + timedelta(days=14)
    with open_database(database) as db, _refusals(), db.read_session() as session:
        layers = service.final_shifts(
            session, config=loaded, start=begin, end=finish, schedule=schedule
        )
    if as_json:
        out = [layer_out(layer, loaded).model_dump(mode="json") for layer in layers]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    for layer in layers:
        print_rows(
            [
                {
                    "from": _local(s.start, loaded, layer.timezone),
                    "to": _local(s.end, loaded, layer.timezone),
                    "on_call": (
                        loaded.find_person(s.person).name  # type: ignore[union-attr]
                        if s.person and loaded.find_person(s.person)
                        else s.person
                    )
                    or "— gap —",
                    "source": s.source,
                }
                for s in layer.shifts
            ],
            columns=["from", "to", "on_call", "source"],
            as_json=False,
            title=f"{layer.schedule} · {layer.layer} ({layer.timezone}): "
            f"{layer.coverage * 100:.1f}% covered, {len(layer.gaps)} gap(s)",
        )


@override_app.command("add")
def override_add(
    schedule: str = typer.Option(..., "--schedule", "-s", help="The schedule."),
    person: str = typer.Option(..., "--person", "-p", help="Who takes over (a person id)."),
    start: str = typer.Option(..., "--from", help="When the override starts."),
    end: str = typer.Option(..., "--to", help="When it ends."),
    layer: str = typer.Option("primary", "--layer", help="primary or secondary."),
    reason: str = typer.Option("", "--reason", help="Why; shown with the override."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Let PERSON take LAYER of SCHEDULE from --from to --to."""
    loaded = load_config_or_exit(config)
    by = _actor(loaded, as_person)
    begin = parse_time(start, loaded, option="--from")
    finish = parse_time(end, loaded, option="--to")
    with open_database(database) as db, _refusals(), transaction(db.session) as session:
        override = service.add_override(
            session,
            config=loaded,
            schedule=schedule,
            layer=layer,
            person=person,
            start=begin,
            end=finish,
            reason=reason,
            by=by,
            now=SystemClock().now(),
        )
        out = OverrideOut.model_validate(override).model_dump(mode="json")
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        console.print(
            f"override {out['id']}: {person} takes {schedule} ({layer}) "
            f"from {_local(begin, loaded)} to {_local(finish, loaded)}"
        )


@override_app.command("list")
def override_list(
    schedule: str | None = ScheduleOption,
    past: bool = typer.Option(False, "--past", help="Include overrides that have ended."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Overrides not yet ended (and not removed), soonest first."""
    load_config_or_exit(config)
    with open_database(database) as db, db.read_session() as session:
        rows = [
            OverrideOut.model_validate(o).model_dump(mode="json")
            for o in service.list_overrides(
                session, now=SystemClock().now(), schedule=schedule, include_past=past
            )
        ]
    print_rows(
        rows,
        columns=[
            "id",
            "schedule",
            "layer",
            "person",
            "starts_at",
            "ends_at",
            "created_by",
            "reason",
        ],
        as_json=as_json,
    )


@override_app.command("remove")
def override_remove(
    override_id: int = typer.Argument(..., help="The override's id (from `override list`)."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Remove an override; the rotation applies again (the record is kept)."""
    loaded = load_config_or_exit(config)
    by = _actor(loaded, as_person)
    with open_database(database) as db, _refusals(), transaction(db.session) as session:
        service.remove_override(session, override_id=override_id, by=by, now=SystemClock().now())
    console.print(f"override {override_id} removed")


@oncall_app.command("feeds")
def feeds(
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Calendar subscription URLs (iCalendar, with their feed tokens) per schedule and person."""
    loaded = load_config_or_exit(config)
    settings = settings_from(database=database, config=config)
    base = loaded.settings.public_url or settings.public_url or f"http://{settings.listen}"
    with open_database(database) as db:
        key = (
            settings.secret_key.get_secret_value() if settings.secret_key else stored_secret_key(db)
        )
    rows = [
        {
            "scope": "schedule",
            "name": s.name,
            "url": f"{base.rstrip('/')}/api/v1/oncall/{s.name}.ics"
            f"?token={feed_token(key, scope='schedule', name=s.name)}",
        }
        for s in loaded.oncall.schedules
    ] + [
        {
            "scope": "person",
            "name": p.id,
            "url": f"{base.rstrip('/')}/api/v1/oncall/people/{p.id}.ics"
            f"?token={feed_token(key, scope='person', name=p.id)}",
        }
        for p in loaded.people
    ]
    print_rows(rows, columns=["scope", "name", "url"], as_json=as_json)
