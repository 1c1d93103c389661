"""`opsbook incident` timeline, output, checklist, tick, impact, unassign and merge; the
postmortem, action-item and report commands' usage errors exit 2 with a clear message."""

from __future__ import annotations

import json
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

    def invoke(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = runner.invoke(
            app, [*args, "--config", str(config_file), "--database", db.url], input=stdin
        )
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_the_record_is_worked_from_the_cli(run: Any, tmp_path: Path) -> None:
    run("incident", "open", "Checkout 5xx", "--severity", "P1")
    run("incident", "open", "Checkout errors (dup)", "--severity", "P2")
    log = tmp_path / "pods.txt"
    log.write_text("api-7f9 CrashLoopBackOff token=abc123secret\n")
    run("incident", "output", "1", str(log), "--label", "kubectl get pods")
    run("incident", "output", "1", "--label", "uptime", stdin="load average: 9.1")
    assert "nothing attached" in run("incident", "output", "1", "--label", "x", stdin=" ", code=2)
    assert '"Assess impact" ticked' in run("incident", "tick", "1", "assess impact", "--as", "rita")
    assert "already ticked by person:rita" in run("incident", "tick", "1", "3")
    assert "no checklist item 'Dance'" in run("incident", "tick", "1", "Dance", code=2)
    assert "users 40" in run("incident", "impact", "1", "--users-affected", "40")
    assert "give --component" in run("incident", "impact", "1", code=2)
    run("incident", "assign", "1", "scribe", "vic")
    assert "vic is no longer scribe" in run("incident", "unassign", "1", "scribe", "vic")
    assert "vic is not scribe" in run("incident", "unassign", "1", "scribe", "vic", code=2)
    assert "#2 merged into #1" in run("incident", "merge", "2", "--into", "1", "--reason", "dup")
    assert "no incident #9" in run("incident", "merge", "1", "--into", "9", code=2)

    outputs = json.loads(run("incident", "timeline", "1", "--kind", "output_attached", "--json"))
    assert [(o["data"]["label"], o["actor"]) for o in outputs] == [
        ("kubectl get pods", "cli:ops"),
        ("uptime", "cli:ops"),
    ]
    assert "abc123secret" not in outputs[0]["body"]
    assert "unknown kind 'gossip'" in run("incident", "timeline", "1", "--kind", "gossip", code=2)
    checklist = json.loads(run("incident", "checklist", "1", "--json"))
    assert [(c["position"], c["done_by"]) for c in checklist[2:4]] == [
        (3, "person:rita"),
        (4, None),
    ]
    assert "☐" in run("incident", "checklist", "1")
    assert "merged" in run("incident", "timeline", "1")


def test_postmortem_and_report_usage_errors_exit_2(run: Any) -> None:
    run("incident", "open", "Checkout 5xx", "--severity", "P1")
    assert "drafted once it is resolved" in run("postmortem", "draft", "1", code=2)
    assert "has no postmortem yet" in run("postmortem", "show", "1", code=2)
    run("incident", "resolve", "1")
    run("postmortem", "draft", "1")
    assert "already has a postmortem" in run("postmortem", "draft", "1", code=2)
    assert "unknown section 'gossip'" in run("postmortem", "edit", "1", "gossip", "x", code=2)
    assert "--due must be a date" in run(
        "action-items", "add", "1", "x", "--owner", "rita", "--due", "soon", code=2
    )
    assert "no person 'zed'" in run(
        "action-items", "add", "1", "x", "--owner", "zed", "--due", "2026-05-01", code=2
    )
    assert "unknown postmortem status 'done'" in run("postmortem", "status", "1", "done", code=2)
    assert "--format must be markdown or json" in run(
        "postmortem", "export", "1", "--format", "pdf", code=2
    )
    assert "--by must be severity or service" in run("report", "--by", "team", code=2)
    assert "neither a date" in run("report", "--from", "yesterday", code=2)
    listed = json.loads(run("postmortem", "list", "--json"))
    assert [(p["incident"], p["status"], p["overdue"]) for p in listed] == [(1, "draft", False)]
