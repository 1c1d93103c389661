"""Done means: the demo's outage carried from trigger to a closed postmortem with `opsbook`.

The demo's sample app is broken for real (``POST /_demo/mode``), its check fails, and
every step after that is an ``opsbook`` command against a real database: the incident,
its record, the postmortem, an action item, the report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.core.db import Database
from opsbook.demo.cli import render_demo_config
from opsbook.demo.target import TargetServer, create_app_database
from support import demo_target, set_demo_mode

runner = CliRunner()


@pytest.fixture
def target() -> Iterator[TargetServer]:
    with demo_target() as server:
        yield server


@pytest.fixture
def opsbook(
    target: TargetServer, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Run `opsbook ARGS` with the demo's opsbook.yaml and the test database."""
    monkeypatch.setenv("USER", "ops")
    app_db = tmp_path / "app.db"
    create_app_database(app_db)
    config = tmp_path / "opsbook.yaml"
    config.write_text(
        render_demo_config(
            target_url=target.url,
            tls_port=1,
            app_db=app_db,
            config_path=config,
            database_url=db.url,
        )
    )

    def run(*args: str, code: int = 0, stdin: str | None = None, db_options: bool = True) -> str:
        options = ["--config", str(config)] + (["--database", db.url] if db_options else [])
        result = runner.invoke(app, [*args, *options], input=stdin)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return run


def test_the_demo_outage_is_worked_to_a_closed_postmortem_from_the_cli(
    target: TargetServer, opsbook: Any, tmp_path: Path
) -> None:
    set_demo_mode(target, "down")
    failing = opsbook("checks", "run", "healthz", code=1, db_options=False)
    assert "DOWN" in failing

    # Trigger: the on-call engineer opens the incident and pastes the failing check.
    opened = json.loads(
        opsbook(
            "incident",
            "open",
            "Website is down",
            "--severity",
            "P1",
            "--component",
            "Website",
            "--summary",
            "healthz.json answers 503",
            "--json",
            "--as",
            "alice",
        )
    )
    number = str(opened["number"])
    assert opened["channel_name"].startswith("#incident-")
    assert "output attached" in opsbook(
        "incident", "output", number, "--label", "opsbook checks run healthz", stdin=failing
    )
    # Respond, assess, mitigate, resolve.
    assert f"#{number} is acknowledged" in opsbook("incident", "ack", number, "--as", "bob")
    opsbook("incident", "assign", number, "commander", "alice", "--as", "alice")
    opsbook("incident", "assign", number, "responder", "bob", "--as", "alice")
    opsbook("incident", "tick", number, "Acknowledge alert", "--as", "bob")
    opsbook(
        "incident",
        "impact",
        number,
        "--component",
        "Website",
        "--component",
        "API",
        "--users-affected",
        "300",
        "--as",
        "bob",
    )
    opsbook("incident", "tick", number, "3", "--as", "bob")  # Assess impact
    opsbook(
        "incident",
        "status",
        number,
        "identified",
        "--reason",
        "the app's database pool is exhausted",
        "--as",
        "bob",
    )
    opsbook("incident", "note", number, "Restarting the app with a **larger pool**", "--as", "bob")
    set_demo_mode(target, "ok")
    assert "UP" in opsbook("checks", "run", "healthz", db_options=False)
    assert f"#{number} is resolved" in opsbook(
        "incident", "resolve", number, "--reason", "healthz back to ok", "--as", "bob"
    )
    checklist = json.loads(opsbook("incident", "checklist", number, "--json"))
    assert [item["done_by"] for item in checklist[:3]] == ["person:bob", None, "person:bob"]

    # The postmortem, drafted from the record and written from the terminal.
    drafted = opsbook("postmortem", "draft", number, "--as", "alice")
    assert "to write before publishing: prevention" in drafted
    opsbook(
        "postmortem",
        "edit",
        number,
        "root_cause",
        "The pool (10) was too small for the traffic after the release.",
        "--as",
        "alice",
    )
    lessons = tmp_path / "lessons.md"
    lessons.write_text(
        "- Went well: the check caught it within a minute.\n- Improve: alert on pool use.\n"
    )
    opsbook(
        "postmortem", "edit", number, "lessons_learned", "--file", str(lessons), "--as", "alice"
    )
    opsbook(
        "postmortem",
        "edit",
        number,
        "prevention",
        "--file",
        "-",
        "--as",
        "alice",
        stdin="Alert when the pool is 80% used.",
    )
    refused = opsbook("postmortem", "close", number, code=2)
    assert "cannot go from draft to closed" in refused
    due = (datetime.now(UTC).date() + timedelta(days=14)).isoformat()
    assert f"action item 1 added to #{number}, due {due}" in opsbook(
        "action-items",
        "add",
        number,
        "Alert on pool saturation",
        "--owner",
        "bob",
        "--due",
        due,
        "--as",
        "alice",
    )
    assert f"#{number} postmortem is published" in opsbook("postmortem", "publish", number)
    assert "still open: 1. Alert on pool saturation" in opsbook(
        "postmortem", "close", number, code=2
    )
    items = json.loads(opsbook("action-items", "list", "--owner", "bob", "--json"))
    assert [(i["id"], i["status"], i["overdue"]) for i in items] == [(1, "open", False)]
    assert "action item 1 is done" in opsbook("action-items", "done", "1", "--as", "bob")
    assert f"#{number} postmortem is closed" in opsbook(
        "postmortem", "close", number, "--as", "alice"
    )
    assert f"#{number} is closed" in opsbook("incident", "close", number, "--as", "alice")

    # The record, the write-up and the report agree.
    shown = json.loads(opsbook("postmortem", "show", number, "--json"))
    assert (shown["status"], shown["overdue"]) == ("closed", False)
    exported = opsbook("postmortem", "export", number)
    assert exported.startswith(f"# Postmortem: #{number} Website is down")
    assert "The pool (10) was too small" in exported
    assert "| 1 | Alert on pool saturation | bob |" in exported
    assert "**Detection time:**" in exported
    kinds = [e["kind"] for e in json.loads(opsbook("incident", "timeline", number, "--json"))]
    for kind in (
        "created",
        "output_attached",
        "acknowledged",
        "checklist_ticked",
        "impact_changed",
        "note",
        "postmortem_drafted",
        "action_item_added",
        "postmortem_status_changed",
    ):
        assert kind in kinds
    assert kinds[-1] == "status_changed"  # closing the incident came last
    report = json.loads(opsbook("report", "--by", "severity", "--json"))
    p1 = next(g for g in report["groups"] if g["key"] == "P1")
    assert (p1["incidents"], p1["acknowledged"], p1["resolved"]) == (1, 1, 1)
    assert p1["mtta_seconds"] is not None
    assert "MTTA" in opsbook("report")
