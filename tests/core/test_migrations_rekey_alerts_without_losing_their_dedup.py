"""Migration 0009: alerts keyed by a digest of their labels get the label text as key.

An upgraded server must still recognise a repeat of an alert that was open before the
upgrade (else it would be notified as new), and leave keys a source gave alone.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from opsbook.alerts.config import AlertsConfig
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.ingest import receive
from opsbook.alerts.labels import NATURAL_KEY_MAX, label_key, labels_json
from opsbook.alerts.routing import routing_tree
from opsbook.core.db import Database, make_engine
from opsbook.core.migrate import downgrade, upgrade

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SHORT = {"alertname": "DiskFull", "instance": "db-1"}
LONG = {"alertname": "Long", "detail": "x" * 300}
SOURCE_KEY = "pagerduty:payments:checkout-latency"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no schema at all, so that a test can migrate it step by step."""
    if request.param == "sqlite":
        database = Database.connect(f"sqlite:///{tmp_path / 'old.db'}")
        yield database
        database.dispose()
        return
    admin_url = request.getfixturevalue("pg_url")
    base, _, _ = admin_url.rpartition("/")
    name = f"opsbook_migration_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database.connect(f"{base}/{name}")
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _digest(labels: dict[str, str]) -> str:
    reference = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(reference.encode(), digest_size=16).hexdigest()


def _insert(db: Database, key: str, labels: dict[str, str], *, resolved: bool) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (dedup_key, source, alertname, labels, annotations, "
                "starts_at, received_at, updated_at, resolved_at, generator_url, refreshes) "
                "VALUES (:key, :source, :name, :labels, '{}', :now, :now, :now, :resolved, '', 0)"
            ),
            {
                "key": key,
                "source": "pagerduty" if key == SOURCE_KEY else "alertmanager",
                "name": labels["alertname"],
                "labels": labels_json(labels),
                "now": NOW,
                "resolved": NOW if resolved else None,
            },
        )


def _keys(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT alertname, dedup_key FROM alerts ORDER BY id")).all()
    return {name: key for name, key in rows}


def test_upgrade_gives_label_keyed_alerts_their_text_key_and_leaves_source_keys(
    empty_db: Database,
) -> None:
    upgrade(empty_db.engine, "0008_alerts")
    _insert(empty_db, _digest(SHORT), SHORT, resolved=False)
    _insert(empty_db, _digest(LONG), LONG, resolved=True)
    _insert(empty_db, SOURCE_KEY, {"alertname": "Checkout"}, resolved=False)

    upgrade(empty_db.engine)

    keys = _keys(empty_db)
    assert keys["DiskFull"] == labels_json(SHORT) == label_key(SHORT)
    assert keys["Long"] == label_key(LONG)
    assert len(keys["Long"]) == NATURAL_KEY_MAX
    assert keys["Long"].endswith(_digest(LONG))
    assert keys["Checkout"] == SOURCE_KEY


def test_a_repeat_after_the_upgrade_refreshes_the_alert_open_before_it(
    empty_db: Database,
) -> None:
    upgrade(empty_db.engine, "0008_alerts")
    _insert(empty_db, _digest(SHORT), SHORT, resolved=False)
    upgrade(empty_db.engine)

    tree = routing_tree(AlertsConfig())
    with empty_db.session() as session:
        result = receive(session, tree=tree, alerts=[AlertInput(labels=dict(SHORT))], now=NOW)
        session.commit()

    assert (result.new, result.refreshed) == (0, 1)
    with empty_db.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM alerts")).scalar_one() == 1


def test_downgrade_puts_the_digest_keys_back(empty_db: Database) -> None:
    upgrade(empty_db.engine, "0008_alerts")
    _insert(empty_db, _digest(SHORT), SHORT, resolved=False)
    _insert(empty_db, SOURCE_KEY, {"alertname": "Checkout"}, resolved=False)
    upgrade(empty_db.engine)

    downgrade(empty_db.engine, "0008_alerts")

    assert _keys(empty_db) == {"DiskFull": _digest(SHORT), "Checkout": SOURCE_KEY}
