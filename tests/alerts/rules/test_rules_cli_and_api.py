"""`opsbook rules [--json]`, `opsbook rules test FILE`, and the read-only `/api/v1/rules`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rules_support import push
from typer.testing import CliRunner

from opsbook.alerts.rules.jobs import log_only_sink
from opsbook.alerts.rules.service import evaluate_rule
from opsbook.cli import app
from opsbook.config import load_config
from opsbook.core.db import Database
from opsbook.runtime import Runtime
from support import TEST_CONFIG, bearer

runner = CliRunner()
RULES = """rules:
  - name: TokenUsageHigh
    expr: llm_tokens_used / llm_tokens_limit > 90%
    severity: P1
    annotations: {summary: '{{ $labels.provider }} at {{ $value | humanizePercentage }}'}
  - name: QueueStuck
    expr: max(queue_depth[10m]) > 100
    for: 10m
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """The app's opsbook.yaml (the ``runtime`` fixture reads it) with two rules."""
    path = tmp_path / "opsbook.yaml"
    path.write_text(TEST_CONFIG + RULES)
    return path


def tokens_now(db: Database) -> None:
    now = datetime.now(UTC)
    push(
        db,
        [
            ("llm_tokens_used", {"provider": "openai"}, 950.0),
            ("llm_tokens_limit", {"provider": "openai"}, 1000.0),
            ("llm_tokens_used", {"provider": "anthropic"}, 10.0),
            ("llm_tokens_limit", {"provider": "anthropic"}, 1000.0),
        ],
        now - timedelta(seconds=5),
    )


def test_rules_test_explains_each_series_and_exits_by_outcome(
    db: Database, config_file: Path
) -> None:
    tokens_now(db)
    args = ["rules", "test", str(config_file), "--database", db.url]
    result = runner.invoke(app, [*args, "--rule", "TokenUsageHigh"])
    assert result.exit_code == 1, "a series holds: the rule would alert"
    assert "ALERT" in result.output
    assert "0.95 > 0.9: holds" in result.output
    assert "0.01 > 0.9: does not hold" in result.output
    as_json = runner.invoke(app, [*args, "--json"])
    report = json.loads(as_json.output)
    assert [entry["rule"] for entry in report] == ["TokenUsageHigh", "QueueStuck"]
    openai = next(s for s in report[0]["series"] if s["labels"] == {"provider": "openai"})
    assert openai["holds"] is True
    assert openai["value"] == pytest.approx(0.95)
    assert openai["threshold"] == pytest.approx(0.9)
    assert report[1]["series"] == [], "no queue_depth samples: nothing to compare"
    quiet = runner.invoke(app, [*args, "--rule", "QueueStuck"])
    assert quiet.exit_code == 0
    assert "no series" in quiet.output


def test_rules_test_refuses_bad_files_and_names(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("service: {name: T}\nrules:\n  - {name: X, expr: 'rate(x) > 1'}\n")
    result = runner.invoke(app, ["rules", "test", str(bad), "--database", db.url])
    assert result.exit_code == 2
    assert "bad.yaml:3:" in result.output
    good = tmp_path / "good.yaml"
    good.write_text("service: {name: T}\nrules:\n  - {name: X, expr: 'x > 1'}\n")
    unknown = runner.invoke(app, ["rules", "test", str(good), "-r", "Y", "--database", db.url])
    assert unknown.exit_code == 2
    assert "no rule named 'Y'" in unknown.output


def test_rules_lists_state_and_series(db: Database, config_file: Path) -> None:
    tokens_now(db)
    config = load_config(config_file)
    rule = config.find_rule("TokenUsageHigh")
    assert rule is not None
    with db.session() as session, session.begin():
        evaluate_rule(session, config=config, rule=rule, now=datetime.now(UTC), sink=log_only_sink)
    args = ["rules", "--config", str(config_file), "--database", db.url]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "TokenUsageHigh" in table.output
    assert "firing" in table.output
    listed = json.loads(runner.invoke(app, [*args, "--json"]).output)
    first = listed[0]
    assert first["name"] == "TokenUsageHigh"
    assert first["state"] == "firing"
    assert first["firing"] == 1
    assert first["series"][0]["labels"] == {"provider": "openai"}
    assert listed[1]["state"] == "inactive"


def test_the_rules_api_is_read_only_for_viewers(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    push(
        runtime.db,
        [
            ("llm_tokens_used", {"provider": "openai"}, 950.0),
            ("llm_tokens_limit", {"provider": "openai"}, 1000.0),
        ],
        runtime.clock.now(),
    )
    rule = runtime.config.find_rule("TokenUsageHigh")
    assert rule is not None
    with runtime.db.session() as session, session.begin():
        evaluate_rule(
            session, config=runtime.config, rule=rule, now=runtime.clock.now(), sink=log_only_sink
        )
    assert client.get("/api/v1/rules").status_code == 401
    response = client.get("/api/v1/rules", headers=bearer(tokens["viewer"]))
    assert response.status_code == 200
    body = response.json()
    assert [r["name"] for r in body] == ["TokenUsageHigh", "QueueStuck"]
    assert body[0]["state"] == "firing"
    assert body[0]["series"][0]["annotations"] == {"summary": "openai at 95%"}
    assert body[0]["severity"] == "P1"
    assert body[1]["for_seconds"] == 600
    one = client.get("/api/v1/rules/QueueStuck", headers=bearer(tokens["viewer"]))
    assert one.json()["state"] == "inactive"
    missing = client.get("/api/v1/rules/Nope", headers=bearer(tokens["viewer"]))
    assert missing.status_code == 404
    assert missing.json()["message"] == "no rule named 'Nope'"
    assert client.post("/api/v1/rules", headers=bearer(tokens["admin"])).status_code == 405
