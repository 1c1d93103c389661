"""``opsbook status``: post from an incident, override, maintenance; clear usage errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsbook.cli import app
from opsbook.core.clock import FakeClock
from opsbook.incidents import open_incident
from opsbook.runtime import Runtime


def run(runtime: Runtime, config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["status", *args, "--config", str(config_file), "--database", runtime.db.url]
    )
    return result.exit_code, result.output


def test_update_from_an_incident_with_components(
    runtime: Runtime, clock: FakeClock, config_file: Path
) -> None:
    with runtime.db.session() as session, session.begin():
        number = open_incident(
            session, config=runtime.config, title="x", severity="P1", by="alice", now=clock.now()
        ).number
    code, out = run(
        runtime,
        config_file,
        "update",
        str(number),
        "--state",
        "identified",
        "--message",
        "A bad deploy.",
        "--component",
        "api=partial_outage",
        "--as",
        "rita",
        "--json",
    )
    assert code == 0, out
    posted = json.loads(out)
    assert posted["status"] == "identified"
    assert posted["components"] == {"api": "partial_outage"}
    code, out = run(runtime, config_file, "components", "--json")
    assert code == 0
    api = next(c for c in json.loads(out) if c["id"] == "api")
    assert (api["status"], api["source"]) == ("partial_outage", "public_incident")


def test_usage_errors_exit_2_with_a_message(runtime: Runtime, config_file: Path) -> None:
    assert run(runtime, config_file, "update", "1", "--state", "exploded")[0] == 2
    code, out = run(runtime, config_file, "update", "99", "--state", "identified")
    assert code == 2
    assert "no incident #99" in out
    code, out = run(runtime, config_file, "override", "billing", "major_outage")
    assert code == 2
    assert "no component 'billing'" in out
    code, out = run(
        runtime,
        config_file,
        "maintenance",
        "schedule",
        "x",
        "--starts",
        "2026-12-01T02:00:00",
        "--ends",
        "2026-12-01T03:00:00Z",
    )
    assert code == 2
    assert "needs a zone" in out


def test_override_and_maintenance(runtime: Runtime, config_file: Path) -> None:
    assert run(runtime, config_file, "override", "Website", "degraded_performance")[0] == 0
    code, out = run(
        runtime,
        config_file,
        "maintenance",
        "schedule",
        "Upgrade",
        "--starts",
        "2030-01-01T02:00:00Z",
        "--ends",
        "2030-01-01T03:00:00Z",
        "--component",
        "api",
    )
    assert code == 0
    code, out = run(runtime, config_file, "maintenance", "list", "--json")
    assert [m["status"] for m in json.loads(out)] == ["scheduled"]
    components = json.loads(run(runtime, config_file, "components", "--json")[1])
    assert {c["id"]: c["source"] for c in components}["website"] == "override"
    assert run(runtime, config_file, "override", "Website", "clear")[0] == 0
