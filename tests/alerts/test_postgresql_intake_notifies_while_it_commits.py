"""On PostgreSQL, ``opsbook serve`` sends a new group's notification while intake's
commit waits for its WAL flush, and records it once the commit is known.  A commit
that fails after the send stores nothing of it: the request is retried alone, its
group is flushed again, and the same notification is sent once more."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text

from alerts.servers import ServerProcess, post_json, webhook_config
from notify.servers import WebhookReceiver
from opsbook.alerts.models import Alert
from opsbook.core.clock import SystemClock
from opsbook.core.db import Database
from opsbook.core.models import Notification

# Refuses, at commit (a deferred constraint trigger), the first transaction that stores a
# "Refused" alert; the sequence is not rolled back, so the second one passes.
REFUSE_FIRST_COMMIT = """
CREATE SEQUENCE refuse_first_commit;
CREATE FUNCTION refuse_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.alertname = 'Refused' AND nextval('refuse_first_commit') = 1 THEN
    RAISE EXCEPTION 'refused at commit';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER refuse_first_commit AFTER INSERT ON alerts
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_first_commit();
"""


def _config(hook: str) -> str:
    return webhook_config(hook, name="commit", group_wait="0s", group_interval="1h")


def _wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)


def _notifications(db: Database) -> list[tuple[str, str]]:
    with db.read_session() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id))
        return [(row.idempotency_key, row.status) for row in rows]


@pytest.mark.slow
def test_a_notification_sent_before_a_failed_commit_is_sent_again_after_the_retry(
    db: Database, tmp_path: Path
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite intake hands notifications over after its commit")
    receiver = WebhookReceiver(secret=None, clock=SystemClock(), keep_alive=True)
    receiver.start()
    config = tmp_path / "opsbook.yaml"
    config.write_text(_config(receiver.url))
    server = ServerProcess(
        config=config,
        database=db.engine.url.render_as_string(hide_password=False),
        log=tmp_path / "server.log",
    )
    try:
        server.start()
        with db.engine.begin() as connection:
            connection.execute(text(REFUSE_FIRST_COMMIT))

        # An alert whose commit passes: one notification, recorded delivered.
        fine = [{"labels": {"alertname": "Fine", "service": "web"}}]
        assert post_json(server.url + "/api/v2/alerts", fine) == 200
        _wait_for(lambda: [s for _, s in _notifications(db)] == ["delivered"])
        assert len(receiver.requests) == 1
        [(fine_key, _)] = _notifications(db)

        # An alert whose first commit fails after the notification left.
        refused = [{"labels": {"alertname": "Refused", "service": "web"}}]
        assert post_json(server.url + "/api/v2/alerts", refused) == 200
        _wait_for(lambda: len(_notifications(db)) == 2 and _notifications(db)[1][1] == "delivered")
        time.sleep(1)  # a third send would come within the worker's next rounds

        sent = [
            r
            for r in receiver.requests
            if json.loads(r.body)["commonLabels"]["alertname"] == "Refused"
        ]
        first, again = (json.loads(r.body) for r in sent)
        assert (again["groupKey"], again["alerts"]) == (first["groupKey"], first["alerts"])
        # The group was made in the transaction that failed: the retry made it again, with
        # a new id, and a notification's key names its group's id (ids are never reused).
        keys = [r.headers.get("idempotency-key") for r in sent]
        assert keys[0] != keys[1]
        [(_, fine_status), (refused_key, refused_status)] = _notifications(db)
        assert (fine_status, refused_key, refused_status) == ("delivered", keys[1], "delivered")
        assert refused_key != fine_key
        with db.read_session() as session:
            assert sorted(session.scalars(select(Alert.alertname))) == ["Fine", "Refused"]
        logged = server.log.read_text()
        assert "notify.sent_for_a_rolled_back_transaction" in logged
        assert "refused at commit" in logged
    finally:
        server.stop()
        receiver.stop()
        with db.engine.begin() as connection:
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_first_commit ON alerts"))
            connection.execute(text("DROP FUNCTION IF EXISTS refuse_first_commit()"))
            connection.execute(text("DROP SEQUENCE IF EXISTS refuse_first_commit"))
