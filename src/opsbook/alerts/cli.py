"""``opsbook alerts`` and ``opsbook silence``: the pipeline from a terminal.

Commands act on the database directly (``--database``, ``--config`` as for the other
commands), so they work with the server down.  Who acted is ``--as PERSON`` (a person
id from ``people:``), or else ``cli:<login name>``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer

from opsbook.alerts import service
from opsbook.alerts import silences as silencing
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.labels import fingerprint, invalid_label_names, parse_time
from opsbook.alerts.matchers import Matcher, MatcherError, parse_all
from opsbook.alerts.schemas import MAX_SILENCE, alert_out, silence_out
from opsbook.config import OpsbookConfig
from opsbook.config.values import parse_duration
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

alerts_app = typer.Typer(
    help="Alerts: list them (the default), show one, raise or resolve one by hand.",
    invoke_without_command=True,
)
silence_app = typer.Typer(help="Silences: add, list, expire.", no_args_is_help=True)
AsOption = typer.Option(
    None, "--as", help="Act as this person from people: (default: cli:$USER).", show_default=False
)


def _actor(loaded: OpsbookConfig, as_person: str | None) -> str:
    if as_person is None:
        return f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"
    if loaded.find_person(as_person) is None:
        known = ", ".join(p.id for p in loaded.people) or "none"
        fail(f"no person {as_person!r} in people: (known: {known})", code=2)
    return as_person


def _matchers(texts: list[str]) -> list[Matcher]:
    try:
        return parse_all(texts)
    except MatcherError as exc:
        fail(str(exc), code=2)


@alerts_app.callback()
def alerts_list(
    ctx: typer.Context,
    state: str = typer.Option("firing", help="firing (default), resolved or all."),
    filter: list[str] = typer.Option(
        [], "--filter", "-f", help='A matcher, e.g. service=~"api|web"; repeat.'
    ),
    limit: int = typer.Option(100, min=1, max=5000),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """List alerts, newest first, with their state (active, suppressed, resolved)."""
    if ctx.invoked_subcommand is not None:
        return
    if state not in service.STATES:
        fail(f"--state must be one of {', '.join(service.STATES)}", code=2)
    matchers = _matchers(filter)
    loaded = load_config_or_exit(config)
    with open_database(database) as db, db.read_session() as session:
        views = service.list_alerts(
            session,
            config=loaded,
            now=SystemClock().now(),
            state=state,
            matchers=matchers,
            limit=limit,
        )
    if as_json:
        out = [alert_out(view).model_dump(mode="json") for view in views]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    rows = [
        {
            "id": view.id,
            "state": view.state,
            "alertname": view.labels.get("alertname", ""),
            "labels": ", ".join(
                f"{k}={v}" for k, v in sorted(view.labels.items()) if k != "alertname"
            ),
            "starts_at": view.starts_at,
            "source": view.source,
        }
        for view in views
    ]
    columns = ["id", "state", "alertname", "labels", "starts_at", "source"]
    print_rows(rows, columns=columns, as_json=False, title=f"{state} alerts")


@alerts_app.command("show")
def alerts_show(
    alert_id: int = typer.Argument(..., help="The alert's id (from `opsbook alerts`)."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """One alert: labels, annotations, times, receivers and why it is muted."""
    loaded = load_config_or_exit(config)
    with open_database(database) as db, db.read_session() as session:
        try:
            view = service.get_alert(
                session, config=loaded, alert_id=alert_id, now=SystemClock().now()
            )
        except service.AlertNotFound as exc:
            fail(str(exc), code=2)
    out = alert_out(view)
    if as_json:
        sys.stdout.write(out.model_dump_json(indent=2) + "\n")
        return
    name = view.labels.get("alertname", "(no alertname)")
    console.print(f"[bold]{name}[/] {view.state} · {view.fingerprint}", highlight=False)
    for title, values in (("labels", view.labels), ("annotations", view.annotations)):
        console.print(f"{title}:", highlight=False)
        for key, value in sorted(values.items()):
            console.print(f"  {key} = {value}", highlight=False, markup=False)
    console.print(
        f"started {view.starts_at:%Y-%m-%d %H:%M:%SZ} · source {view.source} · "
        f"receivers {', '.join(view.receivers)}",
        highlight=False,
    )
    if view.resolved_at:
        console.print(f"resolved {view.resolved_at:%Y-%m-%d %H:%M:%SZ}", highlight=False)
    if view.mute.silenced_by:
        console.print(f"silenced by {', '.join(view.mute.silenced_by)}", highlight=False)
    if view.mute.inhibited_by:
        console.print(f"inhibited by {', '.join(view.mute.inhibited_by)}", highlight=False)


def _pairs(texts: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name:
            fail(f"{what} must be NAME=VALUE, got {text!r}", code=2)
        pairs[name] = value
    bad = invalid_label_names(pairs)
    if bad:
        fail(f"invalid {what} name {bad[0]!r}", code=2)
    return pairs


@alerts_app.command("fire")
def alerts_fire(
    labels: list[str] = typer.Argument(..., help="NAME=VALUE labels, e.g. alertname=DiskFull."),
    annotation: list[str] = typer.Option([], "--annotation", "-a", help="NAME=VALUE; repeat."),
    resolve: bool = typer.Option(False, "--resolve", help="Resolve that alert instead."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
) -> None:
    """Raise an alert by hand (or resolve it): it goes through routing like any other."""
    loaded = load_config_or_exit(config)
    by = _actor(loaded, as_person)
    label_set = _pairs(labels, "label")
    now = SystemClock().now()
    alert = AlertInput(
        labels=label_set,
        annotations={**_pairs(annotation, "annotation"), "raised_by": by},
        ends_at=now if resolve else None,
        source="manual",
    )
    with open_database(database) as db, transaction(db.session) as session:
        result = service.receive(session, config=loaded, alerts=[alert], now=now)
    verb = "resolved" if resolve else ("raised" if result.new else "refreshed")
    if resolve and not result.resolved:
        verb = "was not firing; nothing resolved"
    console.print(f"alert {fingerprint(label_set)} {verb}", highlight=False)


@silence_app.command("add")
def silence_add(
    matchers: list[str] = typer.Argument(..., help='Matchers, e.g. alertname="DiskFull".'),
    comment: str = typer.Option(..., "--comment", "-c", help="Why; shown with the silence."),
    duration: str | None = typer.Option(None, "--duration", "-d", help="2h (default), 30m, 1d."),
    ends_at: str | None = typer.Option(None, "--ends-at", help="Instead of --duration: a time."),
    starts_at: str | None = typer.Option(None, "--starts-at", help="Default: now."),
    as_person: str | None = AsOption,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Mute the alerts the matchers select, from now (or --starts-at) for --duration."""
    loaded = load_config_or_exit(config)
    by = _actor(loaded, as_person)
    parsed = _matchers(matchers)
    now = SystemClock().now()
    try:
        start = parse_time(starts_at, "--starts-at") if starts_at else now
        start = start or now
        if ends_at and duration:
            raise ValueError("give --ends-at or --duration, not both")
        end = (
            parse_time(ends_at, "--ends-at")
            if ends_at
            else start + parse_duration(duration or "2h")
        )
        if end is None or end - start > MAX_SILENCE:
            raise ValueError("a silence needs an end at most 365 days after its start")
    except ValueError as exc:
        fail(str(exc), code=2)
    with open_database(database) as db:
        try:
            with transaction(db.session) as session:
                change = silencing.save(
                    session,
                    matchers=parsed,
                    starts_at=start,
                    ends_at=end,
                    created_by=by,
                    comment=comment,
                    now=now,
                )
                out = silence_out(change.silence, now)
        except silencing.SilenceError as exc:
            fail(str(exc), code=2)
    if as_json:
        sys.stdout.write(out.model_dump_json(indent=2) + "\n")
        return
    console.print(
        f"silence [bold]{out.id}[/] {out.state} until {out.ends_at:%Y-%m-%d %H:%M:%SZ}",
        highlight=False,
    )


@silence_app.command("list")
def silence_list(
    all_: bool = typer.Option(False, "--all", help="Include silences expired in the last 5 days."),
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Silences: active first (soonest to end first), then pending, then expired."""
    now = SystemClock().now()
    with open_database(database) as db, db.read_session() as session:
        rows = [
            silence_out(s, now).model_dump()
            for s in silencing.list_silences(session, now=now, include_expired=all_)
        ]
    for row in rows:
        row["matchers"] = ", ".join(row["matchers"])
    columns = ["id", "state", "matchers", "starts_at", "ends_at", "created_by", "comment"]
    print_rows(rows, columns=columns, as_json=as_json, title="silences")


@silence_app.command("expire")
def silence_expire(
    silence_id: str = typer.Argument(..., help="The silence's id."),
    database: str | None = DatabaseOption,
) -> None:
    """End a silence now."""
    with open_database(database) as db:
        try:
            with transaction(db.session) as session:
                silencing.expire(session, silence_id=silence_id, now=SystemClock().now())
        except silencing.SilenceNotFound as exc:
            fail(str(exc), code=2)
    console.print(f"silence {silence_id} expired", highlight=False)
