"""SIGKILL the server during sustained intake: every alert it acknowledged is there after
the restart (a 2xx is sent only after the commit), on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from alerts.servers import ServerProcess, post_json
from opsbook.core.db import Database

CONFIG = """\
service: {name: durability}
alerts:
  alertmanager_api: {public: true}
"""
CLIENTS = 4
BATCH = 20
SEND_FOR = 3.0  # seconds of sustained intake before the kill
PD_KEY = "durabilitykey0000000000000000000"


@pytest.mark.slow
def test_every_acknowledged_alert_survives_a_sigkill(db: Database, tmp_path: Path) -> None:
    config = tmp_path / "opsbook.yaml"
    config.write_text(CONFIG + f"  pagerduty:\n    - {{name: pd, routing_key: {PD_KEY}}}\n")
    url = db.engine.url.render_as_string(hide_password=False)
    server = ServerProcess(config=config, database=url, log=tmp_path / "server.log")
    server.start()
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        sent = 0
        while not stop.is_set() and sent < 5000:  # bounded either way
            names = [f"c{number}-{sent + i}" for i in range(BATCH)]
            body = [{"labels": {"alertname": "Durable", "instance": name}} for name in names]
            try:
                if post_json(server.url + "/api/v2/alerts", body) == 200:
                    with lock:
                        acknowledged.extend(names)
                pd = {
                    "routing_key": PD_KEY,
                    "event_action": "trigger",
                    "dedup_key": f"pd-{names[0]}",
                    "payload": {"summary": "x", "source": "s", "severity": "info"},
                }
                if post_json(server.url + "/v2/enqueue", pd) == 202:
                    with lock:
                        acknowledged.append(f"pd-{names[0]}")
            except OSError:
                return  # the server died mid-request: that request was not acknowledged
            sent += BATCH

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(SEND_FOR)
        server.kill()  # while the clients are still sending
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert len(acknowledged) > 100, "too little was sent before the kill to prove anything"

    server.start()  # the same database
    try:
        with urllib.request.urlopen(server.url + "/api/v2/alerts", timeout=30) as response:
            present = {
                a["labels"]["instance"] for a in json.load(response) if "instance" in a["labels"]
            }
        with db.read_session() as session:
            from sqlalchemy import select

            from opsbook.alerts.models import Alert

            keys = set(session.scalars(select(Alert.dedup_key).where(Alert.source == "pagerduty")))
        missing = [n for n in acknowledged if not n.startswith("pd-") and n not in present]
        missing += [
            n for n in acknowledged if n.startswith("pd-") and f"pagerduty:pd:{n}" not in keys
        ]
        assert missing == []
    finally:
        server.stop()
