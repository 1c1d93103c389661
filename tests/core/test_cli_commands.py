"""The CLI: tables or --json on reads, exit 2 on bad usage, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.jobs import JobRegistry, JobRunner, schedule

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_help_is_available_for_every_command() -> None:
    for command in (
        [],
        ["serve"],
        ["worker"],
        ["demo"],
        ["init"],
        ["check"],
        ["db"],
        ["token"],
        ["token", "create"],
        ["user", "set-password"],
        ["jobs", "list"],
        ["outbox", "list"],
    ):
        code, output = _invoke(*command, "--help")
        assert code == 0
        assert "Usage:" in output


def test_a_token_is_created_once_and_listed_without_its_secret(db: Database) -> None:
    code, output = _invoke(
        "token", "create", "--name", "ci", "--role", "responder", "--database", db.url
    )
    assert code == 0
    raw = output.strip().splitlines()[-1]
    assert raw.startswith("obk_")
    code, listing = _invoke("token", "list", "--json", "--database", db.url)
    rows = json.loads(listing)
    assert [(r["name"], r["role"]) for r in rows] == [("ci", "responder")]
    assert raw not in listing
    assert (
        _invoke("token", "create", "--name", "ci", "--role", "viewer", "--database", db.url)[0] == 2
    )


def test_an_unknown_role_is_a_usage_error(db: Database) -> None:
    code, output = _invoke("token", "create", "--name", "x", "--role", "root", "--database", db.url)
    assert code == 2
    assert "--role must be one of viewer, responder, admin" in output


def test_dead_jobs_are_listed_with_their_error_and_can_be_retried(db: Database) -> None:
    clock = FakeClock()
    with db.session() as session, session.begin():
        schedule(session, kind="nobody.handles", key="k", run_at=clock.now(), now=clock.now())
    JobRunner(db=db, registry=JobRegistry(), clock=clock, worker_id="w").run_due()
    code, output = _invoke("jobs", "list", "--status", "dead", "--json", "--database", db.url)
    [row] = json.loads(output)
    assert (code, row["kind"], row["status"]) == (0, "nobody.handles", "dead")
    assert "no handler registered" in row["last_error"]
    assert _invoke("jobs", "retry", str(row["id"]), "--database", db.url)[0] == 0
    assert _invoke("jobs", "retry", "999", "--database", db.url)[0] == 1
    assert _invoke("jobs", "list", "--status", "exploded", "--database", db.url)[0] == 2


def test_the_outbox_is_listed(db: Database) -> None:
    clock = FakeClock()
    with db.session() as session, session.begin():
        outbox.enqueue(
            session,
            channel="console",
            kind="console",
            message={"title": "x"},
            idempotency_key="k1",
            now=clock.now(),
        )
    code, output = _invoke("outbox", "list", "--json", "--database", db.url)
    [row] = json.loads(output)
    assert (code, row["channel"], row["status"]) == (0, "console", "pending")
    code, table = _invoke("outbox", "list", "--database", db.url)
    assert code == 0
    assert "console" in table


def test_set_password_needs_a_person_from_the_config(db: Database, config_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            "user",
            "set-password",
            "nobody",
            "--password-stdin",
            "--config",
            str(config_file),
            "--database",
            db.url,
        ],
        input="long enough password\n",
    )
    assert result.exit_code == 2
    assert "no person 'nobody'" in result.output
    result = runner.invoke(
        app,
        [
            "user",
            "set-password",
            "rita",
            "--password-stdin",
            "--config",
            str(config_file),
            "--database",
            db.url,
        ],
        input="long enough password\n",
    )
    assert result.exit_code == 0
    assert "password set for rita" in result.output


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _invoke("jobs", "list", "--database", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 1
    assert "cannot use database" in output
    assert "Traceback" not in output
