"""``opsbook rules``: list rules and their state; ``test FILE`` evaluates now and explains."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from opsbook.alerts.rules.evaluator import Candidate, EvaluationError, sorted_candidates
from opsbook.alerts.rules.service import rule_candidates
from opsbook.alerts.rules.status import rule_statuses
from opsbook.alerts.rules.templates import go_float
from opsbook.config import ConfigError, OpsbookConfig, format_duration, load_config
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
from opsbook.metrics.prometheus import PrometheusError, PromQuery, run_queries

rules_app = typer.Typer(
    help="Alert rules: with no command, list them with their state; `test FILE` evaluates now.",
    invoke_without_command=True,
)


@rules_app.callback()
def rules_list(
    ctx: typer.Context,
    config: Path | None = ConfigOption,
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """List rules with their state (firing > pending > resolved > inactive) and series."""
    if ctx.invoked_subcommand is not None:
        return
    loaded = load_config_or_exit(config)
    with open_database(database) as db, db.read_session() as session:
        statuses = rule_statuses(session, config=loaded)
    rows: list[dict[str, Any]] = []
    for status in statuses:
        rule = status.rule
        rows.append(
            {
                "name": rule.name,
                "state": status.state,
                "severity": rule.severity,
                "for": format_duration(rule.for_),
                "keep_firing_for": format_duration(rule.keep_firing_for),
                "every": format_duration(rule.every),
                "expr": status.expression,
                "source": rule.source,
                "firing": sum(s.state == "firing" for s in status.series),
                "pending": sum(s.state == "pending" for s in status.series),
                "last_evaluated_at": status.last_evaluated_at,
                "last_error": status.last_error,
                "series": [
                    {
                        "labels": dict(s.labels),
                        "state": s.state,
                        "value": s.value,
                        "active_since": s.active_since.isoformat() if s.active_since else None,
                        "fired_at": s.fired_at.isoformat() if s.fired_at else None,
                        "resolved_at": s.resolved_at.isoformat() if s.resolved_at else None,
                    }
                    for s in status.series
                ],
            }
        )
    # The table keeps what fits a terminal; --json has every field and each series.
    columns = ["name", "state", "severity", "firing", "pending", "last_error"]
    print_rows(rows, columns=columns, as_json=as_json, title="rules")


def _explain(candidate: Candidate, op: str | None) -> str:
    if op is None or math.isnan(candidate.threshold):
        return f"returned {go_float(candidate.value)}"
    verdict = "holds" if candidate.holds else "does not hold"
    return f"{go_float(candidate.value)} {op} {go_float(candidate.threshold)}: {verdict}"


def _evaluate(
    config: OpsbookConfig, names: list[str], database: str | None
) -> list[dict[str, Any]]:
    rules = [r for r in config.rules if not names or r.name in names]
    now = datetime.now(UTC)
    queries = {
        r.name: PromQuery(next(s for s in config.metrics.prometheus if s.name == r.source), r.query)
        for r in rules
        if r.source is not None and r.query is not None
    }
    remote = dict(zip(queries, run_queries(list(queries.values()), at=now), strict=True))
    report = []
    with open_database(database) as db, db.read_session() as session:
        for rule in rules:
            entry: dict[str, Any] = {
                "rule": rule.name,
                "expr": str(rule.expr or rule.query),
                "at": now.isoformat(),
                "error": None,
                "series": [],
            }
            op = getattr(rule.expr.tree, "op", None) if rule.expr is not None else None
            try:
                found = rule_candidates(session, config=config, rule=rule, now=now, remote=remote)
            except (EvaluationError, PrometheusError) as exc:
                entry["error"] = str(exc)
                report.append(entry)
                continue
            entry["series"] = [
                {
                    "labels": dict(c.labels),
                    "value": c.value,
                    "threshold": None if math.isnan(c.threshold) else c.threshold,
                    "holds": c.holds,
                    "explanation": _explain(c, op),
                }
                for c in sorted_candidates(found)
            ]
            report.append(entry)
    return report


@rules_app.command("test")
def rules_test(
    file: Path = typer.Argument(..., help="An opsbook.yaml whose rules to evaluate."),
    rule: list[str] = typer.Option([], "--rule", "-r", help="Only this rule (repeatable)."),
    database: str | None = DatabaseOption,
    as_json: bool = JsonOption,
) -> None:
    """Evaluate rules now against the database and say, series by series, why they hold.

    Nothing is stored and nothing is sent. Exits 0 when no series holds, 1 when some
    series holds (the rule would be pending or firing) or a rule cannot be evaluated,
    and 2 when FILE is not valid or names no such rule.
    """
    try:
        config = load_config(file)
    except ConfigError as exc:
        fail(f"{file} is not valid:\n{exc}", code=2)
    unknown = [name for name in rule if config.find_rule(name) is None]
    if unknown:
        known = ", ".join(r.name for r in config.rules) or "none"
        fail(f"no rule named {unknown[0]!r} in {file} (known: {known})", code=2)
    report = _evaluate(config, rule, database)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        for entry in report:
            _print_entry(entry)
    holds = any(s["holds"] for e in report for s in e["series"])
    errors = any(e["error"] for e in report)
    raise typer.Exit(1 if holds or errors else 0)


def _print_entry(entry: dict[str, Any]) -> None:
    console.print(f"[bold]{entry['rule']}[/]: {entry['expr']}", highlight=False)
    if entry["error"]:
        console.print(f"  [red]cannot evaluate:[/] {entry['error']}", highlight=False)
        return
    if not entry["series"]:
        console.print("  no series: the expression returns nothing now", highlight=False)
        return
    table = Table(show_header=True)
    table.add_column("")
    table.add_column("series")
    table.add_column("value")
    for series in entry["series"]:
        labels = ", ".join(f'{k}="{v}"' for k, v in sorted(series["labels"].items())) or "{}"
        table.add_row("ALERT" if series["holds"] else "ok", labels, series["explanation"])
    console.print(table)
