"""/api/v1/alerts and /api/v1/silences, and `opsbook alerts` / `opsbook silence`."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alerts.pipeline import ALERTS_CONFIG, Pipeline
from opsbook.alerts.labels import fingerprint
from opsbook.cli import app
from support import bearer


def test_people_raise_list_and_show_alerts(
    alerts_client: TestClient, alert_tokens: dict[str, str], pipeline: Pipeline
) -> None:
    write, read = bearer(alert_tokens["responder"]), bearer(alert_tokens["viewer"])
    body = {
        "labels": {"alertname": "ManualCheck", "service": "api"},
        "annotations": {"summary": "by hand"},
    }
    assert alerts_client.post("/api/v1/alerts", json=body, headers=read).status_code == 403
    created = alerts_client.post("/api/v1/alerts", json=body, headers=write)
    assert created.status_code == 202
    assert created.json() == {
        "new": 1,
        "refreshed": 0,
        "resolved": 0,
        "unknown": 0,
        "fingerprints": [fingerprint(body["labels"])],
    }
    [listed] = alerts_client.get("/api/v1/alerts", headers=read).json()
    assert listed["fingerprint"] == fingerprint(body["labels"])
    assert listed["state"] == "active"
    assert listed["source"] == "manual"
    assert listed["annotations"]["raised_by"] == "token:responder-token"
    shown = alerts_client.get(f"/api/v1/alerts/{listed['id']}", headers=read).json()
    assert shown["receivers"] == ["am"]
    assert alerts_client.get("/api/v1/alerts/999", headers=read).status_code == 404
    resolved = alerts_client.post(
        "/api/v1/alerts", json={**body, "ends_at": "2026-01-05T08:59:00Z"}, headers=write
    )
    assert resolved.json()["resolved"] == 1
    assert alerts_client.get("/api/v1/alerts", headers=read).json() == []
    assert (
        len(alerts_client.get("/api/v1/alerts", params={"state": "all"}, headers=read).json()) == 1
    )
    bad = alerts_client.post("/api/v1/alerts", json={"labels": {"bad-name": "x"}}, headers=write)
    assert bad.status_code == 422


def test_silences_through_api_v1(alerts_client: TestClient, alert_tokens: dict[str, str]) -> None:
    write = bearer(alert_tokens["responder"])
    created = alerts_client.post(
        "/api/v1/silences",
        json={"matchers": ['alertname="Down"'], "duration": "2h", "comment": "deploy"},
        headers=write,
    )
    assert created.status_code == 201
    silence = created.json()
    assert silence["state"] == "active"
    assert silence["created_by"] == "token:responder-token"
    assert silence["matchers"] == ['alertname="Down"']
    expired = alerts_client.delete(f"/api/v1/silences/{silence['id']}", headers=write)
    assert expired.json()["state"] == "expired"
    for body, message in (
        ({"matchers": ["nope"], "duration": "1h", "comment": "x"}, "expected a matcher"),
        ({"matchers": ['a="1"'], "comment": "x"}, "give ends_at or duration"),
        ({"matchers": ['a="1"'], "duration": "400d", "comment": "x"}, "at most 365 days"),
    ):
        response = alerts_client.post("/api/v1/silences", json=body, headers=write)
        assert response.status_code == 422
        assert message in response.json()["message"]


def test_the_cli_lists_shows_fires_and_silences(pipeline: Pipeline, tmp_path: Path) -> None:
    config = tmp_path / "cli.yaml"
    config.write_text(ALERTS_CONFIG)
    common = ["--config", str(config), "--database", pipeline.db.url]
    runner = CliRunner()
    fired = runner.invoke(
        app, ["alerts", "fire", "alertname=DiskFull", "service=db", "-a", "summary=91%", *common]
    )
    assert fired.exit_code == 0, fired.output
    assert "raised" in fired.output
    listed = runner.invoke(app, ["alerts", "--json", *common])
    assert listed.exit_code == 0, listed.output
    [alert] = json.loads(listed.output)
    assert alert["labels"] == {"alertname": "DiskFull", "service": "db"}
    shown = runner.invoke(app, ["alerts", "show", str(alert["id"]), "--json", *common])
    assert json.loads(shown.output)["annotations"]["summary"] == "91%"

    added = runner.invoke(
        app,
        [
            "silence",
            "add",
            'alertname="DiskFull"',
            "--duration",
            "1h",
            "--comment",
            "resize",
            "--as",
            "rita",
            "--json",
            *common,
        ],
    )
    assert added.exit_code == 0, added.output
    silence = json.loads(added.output)
    assert silence["created_by"] == "rita"
    silenced = json.loads(runner.invoke(app, ["alerts", "--json", *common]).output)
    assert silenced[0]["state"] == "suppressed"
    assert silenced[0]["silenced_by"] == [silence["id"]]
    listing = json.loads(runner.invoke(app, ["silence", "list", "--json", *common]).output)
    assert [s["id"] for s in listing] == [silence["id"]]
    expired = runner.invoke(
        app, ["silence", "expire", silence["id"], "--database", pipeline.db.url]
    )
    assert expired.exit_code == 0
    assert json.loads(runner.invoke(app, ["silence", "list", "--json", *common]).output) == []
    assert (
        len(json.loads(runner.invoke(app, ["silence", "list", "--all", "--json", *common]).output))
        == 1
    )

    assert (
        runner.invoke(app, ["silence", "add", "nonsense", "--comment", "x", *common]).exit_code == 2
    )
    assert runner.invoke(app, ["alerts", "--state", "sideways", *common]).exit_code == 2
    assert runner.invoke(app, ["alerts", "show", "999", *common]).exit_code == 2
    assert (
        runner.invoke(app, ["silence", "expire", "nope", "--database", pipeline.db.url]).exit_code
        == 2
    )
    resolved = runner.invoke(
        app, ["alerts", "fire", "alertname=DiskFull", "service=db", "--resolve", *common]
    )
    assert "resolved" in resolved.output
