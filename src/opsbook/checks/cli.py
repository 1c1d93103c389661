"""``opsbook checks``: list checks with their state and uptime; run one now."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from opsbook.checks import service
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import compile_check, is_probe_check
from opsbook.config import format_duration
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

checks_app = typer.Typer(
    help="Checks: with no command, list them with status and uptime; `run NAME` runs one now.",
    invoke_without_command=True,
)


@checks_app.callback()
def checks_list(
    ctx: typer.Context,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """List checks with their status, last result and 24 h / 30 d uptime."""
    if ctx.invoked_subcommand is not None:
        return
    loaded = load_config_or_exit(config)
    with open_database(database) as db:
        now = datetime.now(UTC)
        with db.read_session() as session:
            states = {state.check: state for state in service.list_states(session)}
            rows = []
            for check in loaded.checks:
                state = states.get(check.name)
                rows.append(
                    {
                        "name": check.name,
                        "kind": check.kind,
                        "every": format_duration(check.every),
                        "status": state.status if state else "unknown",
                        "since": state.since if state else None,
                        "last_run_at": state.last_run_at if state else None,
                        "last_reason": state.last_reason.message
                        if state and state.last_reason
                        else None,
                        "uptime_24h": _pct(session, check.name, now, timedelta(hours=24)),
                        "uptime_30d": _pct(session, check.name, now, timedelta(days=30)),
                    }
                )
    # The table keeps what fits a terminal; --json has every field.
    columns = ["name", "kind", "status", "since", "uptime_24h", "uptime_30d", "last_reason"]
    print_rows(rows, columns=columns, as_json=as_json, title="checks")


def _pct(session: Any, check: str, now: datetime, window: timedelta) -> str | None:
    ratio = service.uptime(session, check=check, start=now - window, end=now).ratio
    return None if ratio is None else f"{ratio * 100:.3f}%"


@checks_app.command("run")
def checks_run(
    name: str = typer.Argument(..., help="The check's name in opsbook.yaml."),
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Run one check now: phase timings and each condition's verdict (curl -w, done right).

    Exits 0 when the check passes and 1 when it fails. Nothing is stored.
    """
    loaded = load_config_or_exit(config)
    check = loaded.find_check(name)
    if check is None:
        known = ", ".join(c.name for c in loaded.checks) or "none"
        fail(f"no check named {name!r} (known: {known})", code=2)
    if not is_probe_check(check):
        fail(f"{name!r} is a {check.kind} check: it is pinged, not run", code=2)
    result = asyncio.run(compile_check(check).run(started_at=datetime.now(UTC)))
    if as_json:
        sys.stdout.write(json.dumps(_as_json(result), indent=2, default=str) + "\n")
    else:
        _print_result(result)
    raise typer.Exit(0 if result.ok else 1)


def _as_json(result: CheckResult) -> dict[str, Any]:
    return {
        "check": result.check,
        "kind": result.kind,
        "ok": result.ok,
        "status": result.status,
        "reason": None
        if result.reason is None
        else {"code": result.reason.code, "message": result.reason.message},
        "timings": dict(result.timings),
        "verdicts": [
            {"condition": v.expression, "ok": v.ok, "observed": v.observed, "message": v.message}
            for v in result.verdicts
        ],
    }


def _print_result(result: CheckResult) -> None:
    verdict = "[bold green]UP[/]" if result.ok else "[bold red]DOWN[/]"
    console.print(f"{result.check} ({result.kind}): {verdict}", highlight=False)
    if result.reason is not None:
        console.print(f"  reason: {result.reason.code}: {result.reason.message}", highlight=False)
    timings = Table(title="phase timings", title_justify="left")
    for phase in result.timings:
        timings.add_column(phase, justify="right")
    timings.add_row(*(f"{seconds * 1000:.1f} ms" for seconds in result.timings.values()))
    console.print(timings)
    if result.verdicts:
        verdicts = Table(title="conditions", title_justify="left")
        verdicts.add_column("")
        verdicts.add_column("condition")
        verdicts.add_column("verdict")
        for v in result.verdicts:
            verdicts.add_row("✓" if v.ok else "✗", v.expression, v.message)
        console.print(verdicts)
