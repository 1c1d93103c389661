"""`opsbook incident`: an incident worked from a terminal, and usage errors that exit 2."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.core.db import Database

runner = CliRunner()


@pytest.fixture
def run(config_file: Path, db: Database, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("USER", "ops")

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(
            app, ["incident", *args, "--config", str(config_file), "--database", db.url]
        )
        assert result.exit_code == code, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_an_incident_is_worked_from_open_to_closed_from_the_cli(run: Any) -> None:
    opened = json.loads(run("open", "Checkout is failing", "--severity", "P1", "--json"))
    number = str(opened["number"])
    assert (opened["status"], opened["created_by"]) == ("triggered", "cli:ops")
    assert f"#{number} is acknowledged" in run("ack", number)
    run("status", number, "investigating", "--reason", "pool exhausted", "--as", "rita")
    run("severity", number, "P0", "--reason", "all regions")
    run("assign", number, "commander", "rita", "--as", "alice")
    run("note", number, "Raised the pool size", "--as", "rita")
    assert f"#{number} is resolved" in run("resolve", number)
    assert f"#{number} is closed" in run("close", number)

    shown = json.loads(run("show", number, "--json"))
    assert (shown["status"], shown["severity"]) == ("closed", "P0")
    assert [(r["role"], r["person"], r["assigned_by"]) for r in shown["roles"]] == [
        ("commander", "rita", "person:alice")
    ]
    steps = [
        (e["kind"], e["actor"], e["data"].get("to"))
        for e in shown["timeline"]
        if e["kind"] in ("created", "status_changed", "severity_changed", "role_assigned", "note")
    ]
    assert steps == [
        ("created", "cli:ops", None),
        ("status_changed", "cli:ops", "acknowledged"),
        ("status_changed", "person:rita", "investigating"),
        ("severity_changed", "cli:ops", "P0"),
        ("role_assigned", "person:alice", None),
        ("note", "person:rita", None),
        ("status_changed", "cli:ops", "resolved"),
        ("status_changed", "cli:ops", "closed"),
    ]
    times = [datetime.fromisoformat(e["at"]) for e in shown["timeline"]]
    assert times == sorted(times)
    assert all(t.tzinfo is not None for t in times)


def test_show_prints_header_roles_checklist_and_timeline(run: Any) -> None:
    run("open", "Search is slow", "--severity", "P2", "--summary", "p99 at 4s")
    run("assign", "1", "scribe", "vic")
    text = run("show", "1")
    assert "#1 [P2] Search is slow — triggered" in text
    assert "p99 at 4s" in text
    assert "scribe" in text
    assert "vic" in text
    assert "checklist" in text
    assert "☐" in text
    assert "role_assigned" in text
    assert "created" in text


def test_list_filters_and_prints_json(run: Any) -> None:
    run("open", "Checkout 5xx", "--severity", "P1")
    run("open", "Search slow", "--severity", "P3")
    run("resolve", "1")
    every = json.loads(run("list", "--json"))
    assert [(i["number"], i["status"]) for i in every] == [(2, "triggered"), (1, "resolved")]
    assert [i["number"] for i in json.loads(run("list", "--open", "--json"))] == [2]
    assert [i["number"] for i in json.loads(run("list", "--severity", "P1", "--json"))] == [1]
    assert "Search slow" in run("list")


def test_cli_refusals_exit_2_with_a_clear_message(run: Any) -> None:
    assert "no incident #7" in run("show", "7", code=2)
    assert "no incident #7" in run("ack", "7", code=2)
    run("open", "Checkout 5xx", "--severity", "P1")
    refused = run("close", "1", code=2)
    assert "cannot go from triggered to closed" in refused
    assert "unknown status 'fixed'" in run("status", "1", "fixed", code=2)
    assert "unknown severity 'P9'" in run("severity", "1", "P9", code=2)
    assert "unknown role 'boss'" in run("assign", "1", "boss", "rita", code=2)
    assert "no person 'mallory' in people:" in run("ack", "1", "--as", "mallory", code=2)
    assert "unknown severity 'P7'" in run("open", "X", "--severity", "P7", code=2)
    assert json.loads(run("show", "1", "--json"))["status"] == "triggered"
