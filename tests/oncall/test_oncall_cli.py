"""`opsbook oncall`: now, show, overrides and feeds from a terminal; usage errors exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.core.db import Database
from opsbook.core.instance import stored_secret_key
from opsbook.oncall.links import feed_token

runner = CliRunner()


@pytest.fixture
def run(config_file: Path, db: Database, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("USER", "ops")

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(
            app, ["oncall", *args, "--config", str(config_file), "--database", db.url]
        )
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    return invoke


def test_now_show_and_overrides_from_the_cli(run: Any) -> None:
    now = json.loads(run("now", "--at", "2026-01-05T10:00", "--json"))  # Berlin wall time
    assert [(s["layer"], s["person"]) for s in now] == [("primary", "maya"), ("secondary", "lucia")]
    assert "Maya Chen" in run("now", "--at", "2026-01-05T10:00")
    added = json.loads(
        run(
            "override",
            "add",
            "--schedule",
            "platform",
            "--person",
            "priya",
            "--from",
            "2099-01-05T10:00",
            "--to",
            "2099-01-05T12:00",
            "--as",
            "maya",
            "--json",
        )
    )
    assert (added["person"], added["created_by"]) == ("priya", "person:maya")
    shown = json.loads(
        run("show", "--from", "2099-01-05T00:00", "--to", "2099-01-06T00:00", "--json")
    )
    primary = shown[0]
    assert f"override:{added['id']}" in [s["source"] for s in primary["shifts"]]
    assert "covered" in run("show", "--from", "2099-01-05T00:00", "--to", "2099-01-06T00:00")
    listed = json.loads(run("override", "list", "--json"))
    assert [o["id"] for o in listed] == [added["id"]]
    run("override", "remove", str(added["id"]))
    assert json.loads(run("override", "list", "--json")) == []


def test_usage_errors_exit_2_with_a_message(run: Any) -> None:
    assert "no schedule 'nope'" in run("now", "--schedule", "nope", code=2)
    assert "expected a time" in run("now", "--at", "yesterday", code=2)
    assert "must end after it starts" in run(
        "override",
        "add",
        "-s",
        "platform",
        "-p",
        "dev",
        "--from",
        "2099-01-02T00:00",
        "--to",
        "2099-01-01T00:00",
        code=2,
    )
    assert "no override 99" in run("override", "remove", "99", code=2)


def test_feeds_prints_the_urls_the_server_accepts(run: Any, db: Database) -> None:
    feeds = {(f["scope"], f["name"]): f["url"] for f in json.loads(run("feeds", "--json"))}
    key = stored_secret_key(db)  # the CLI and the server share the key kept in the database
    token = feed_token(key, scope="schedule", name="platform")
    assert feeds[("schedule", "platform")] == (
        f"http://opsbook.test/api/v1/oncall/platform.ics?token={token}"
    )
    assert feeds[("person", "maya")].endswith(
        f"/people/maya.ics?token={feed_token(key, scope='person', name='maya')}"
    )
