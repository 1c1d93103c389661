"""`opsbook init` writes the starter file; `opsbook check` validates and reports."""

import inspect
import json
import typing
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.models import ParameterInfo
from typer.testing import CliRunner

from opsbook.config import load_config, starter_config
from opsbook.config.cli import check, init

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("init")(init)
    app.command("check")(check)
    return app


runner = CliRunner()


def test_init_writes_a_starter_file_that_check_accepts(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "opsbook.yaml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert str(target) in result.stdout
    assert target.read_text(encoding="utf-8") == starter_config()
    assert load_config(target, env={}).service.name == "Example Shop"


def test_init_refuses_to_overwrite_without_force(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "opsbook.yaml"
    target.write_text("service: {name: Mine}\n", encoding="utf-8")

    refused = runner.invoke(app, ["init", str(target)])
    assert refused.exit_code == 2
    assert "already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert target.read_text(encoding="utf-8") == "service: {name: Mine}\n"

    forced = runner.invoke(app, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    assert target.read_text(encoding="utf-8") == starter_config()


def test_check_summarizes_a_valid_file(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "opsbook.yaml"
    target.write_text(starter_config(), encoding="utf-8")
    result = runner.invoke(app, ["check", str(target)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Example Shop" in result.stdout
    assert "3 components, 2 people, 1 team, 10 channels" in result.stdout
    p0_row = next(line for line in result.stdout.splitlines() if "P0" in line)
    assert "15m" in p0_row
    assert "at once" in p0_row
    assert result.stderr == ""


def test_check_prints_every_located_error_to_stderr_and_fails(app: typer.Typer) -> None:
    path = FIXTURES / "three_mistakes.yaml"
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        f'{path}:7:5: channels[0].timout: unknown key "timout", did you mean "timeout"?',
        f"{path}:10:21: severities.P1.respond_within: "
        'expected a duration like 30s, 5m, 2h, 1d, got "5 minutes"',
        f'{path}:11:30: severities.P1.notify[1]: no channel "pager" is defined '
        '(defined: "incidents")',
    ]
    assert lines[3] == f"3 problems in {path}"
    assert result.stdout == ""


def test_check_json_reports_errors(app: typer.Typer) -> None:
    result = runner.invoke(app, ["check", "--json", str(FIXTURES / "three_mistakes.yaml")])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["errors"][1] == {
        "file": str(FIXTURES / "three_mistakes.yaml"),
        "line": 10,
        "column": 21,
        "path": "severities.P1.respond_within",
        "message": 'expected a duration like 30s, 5m, 2h, 1d, got "5 minutes"',
    }


def test_check_json_summarizes_a_valid_file(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "opsbook.yaml"
    target.write_text("service: {name: Shop}\n", encoding="utf-8")
    result = runner.invoke(app, ["check", "--json", str(target)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["ok"] is True
    summary = report["summary"]
    assert (summary["service"], summary["people"], summary["channels"]) == ("Shop", 0, 0)
    assert summary["severities"]["P1"] == {
        "respond_within": "30m",
        "ack_within": None,
        "escalate_after": "1h",
        "notify": ["oncall:primary", "status_page"],
        "escalate_to": ["oncall:secondary"],
    }


def test_check_reads_the_file_named_by_opsbook_config(app: typer.Typer, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.yaml"
    target.write_text("service: {name: FromEnv}\n", encoding="utf-8")
    result = runner.invoke(app, ["check", "--json"], env={"OPSBOOK_CONFIG": str(target)})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["service"] == "FromEnv"


def test_check_of_a_missing_file_is_one_clear_error(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{tmp_path / 'nope.yaml'}: file not found"
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [init, check])
def test_every_argument_and_option_has_help_text(command: Callable[..., None]) -> None:
    hints = typing.get_type_hints(command, include_extras=True)
    parameters = [name for name in inspect.signature(command).parameters]
    assert parameters
    for name in parameters:
        infos = [m for m in hints[name].__metadata__ if isinstance(m, ParameterInfo)]
        assert infos, f"{name} is not declared with typer.Argument/Option"
        assert infos[0].help, f"{command.__name__} {name} has no help text"


def test_help_shows_the_options(app: typer.Typer) -> None:
    result = runner.invoke(app, ["init", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Overwrite the file if it already exists." in result.stdout
