"""Reloading opsbook.yaml: a valid file takes effect; an invalid one changes nothing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from opsbook.runtime import Runtime
from support import TEST_CONFIG, bearer


def test_a_valid_change_takes_effect(
    client: TestClient, runtime: Runtime, config_file: Path, tokens: dict[str, str]
) -> None:
    config_file.write_text(TEST_CONFIG.replace("Test Service", "Renamed Service"))
    response = client.post("/api/v1/config/reload", headers=bearer(tokens["admin"]))
    assert response.json() == {"status": "reloaded", "service": "Renamed Service"}
    assert runtime.config.service.name == "Renamed Service"


def test_an_invalid_file_is_refused_with_located_errors_and_the_old_config_stays(
    client: TestClient, runtime: Runtime, config_file: Path, tokens: dict[str, str]
) -> None:
    config_file.write_text(TEST_CONFIG.replace("  name: Test Service", "  nmae: Test Service"))
    response = client.post("/api/v1/config/reload", headers=bearer(tokens["admin"]))
    assert response.status_code == 422
    errors = {error["path"]: error for error in response.json()["errors"]}
    assert set(errors) == {"service.nmae", "service.name"}
    unknown = errors["service.nmae"]
    assert (unknown["line"], unknown["column"]) == (2, 3)
    assert 'did you mean "name"?' in unknown["message"]
    assert runtime.config.service.name == "Test Service"


def test_reloading_needs_an_admin(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post("/api/v1/config/reload", headers=bearer(tokens["responder"]))
    assert response.status_code == 403


def test_the_config_api_masks_secrets(
    client: TestClient, config_file: Path, tokens: dict[str, str]
) -> None:
    config_file.write_text(
        TEST_CONFIG
        + "  - {name: hook, kind: webhook, url: 'https://hooks.example.com/x', secret: wh-s3cret}\n"
    )
    client.post("/api/v1/config/reload", headers=bearer(tokens["admin"]))
    body = client.get("/api/v1/config", headers=bearer(tokens["viewer"])).text
    assert "hooks.example.com" in body
    assert "wh-s3cret" not in body
