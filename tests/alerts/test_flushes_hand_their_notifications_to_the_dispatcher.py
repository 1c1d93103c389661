"""A flush hands what it enqueued straight to its worker's dispatcher, claimed; a group
that intake makes due at once is flushed in intake's own commit.  Whatever goes wrong
on the way, the notification is still sent: after the lease, or by the next round."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from alerts.pipeline import ALERTS_CONFIG, Pipeline, dumps, make_runtime
from opsbook.alerts import ingest
from opsbook.alerts import silences as silencing
from opsbook.alerts.flusher import GroupFlusher
from opsbook.alerts.ingest import FLUSH_TOPIC
from opsbook.alerts.matchers import parse_all
from opsbook.alerts.models import Alert, AlertGroup, AlertGroupMember
from opsbook.app import create_app
from opsbook.core import outbox
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.core.models import Notification
from opsbook.core.wakeup import OUTBOX
from opsbook.runtime import Runtime

AT_ONCE = ALERTS_CONFIG.replace("group_wait: 30s", "group_wait: 0s")
LEASE = timedelta(seconds=60)


@pytest.fixture
def pipeline(db: Database, clock: FakeClock, tmp_path: Path) -> Pipeline:
    return Pipeline(make_runtime(db, clock, AT_ONCE, tmp_path))


def _flusher(pipeline: Pipeline, handed: list[outbox.Delivery], *, live: bool) -> GroupFlusher:
    flusher = pipeline.runtime.group_flusher(hand_off=handed.extend, worker_id="worker-a")
    flusher.live = lambda: live
    return flusher


def _rows(db: Database) -> list[Notification]:
    with db.read_session() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def _group(db: Database) -> AlertGroup:
    with db.read_session() as session:
        return session.scalars(select(AlertGroup).where(AlertGroup.kind == "notify")).one()


def _post_one_alert(runtime: Runtime, token: str) -> None:
    """POST one new alert to ``runtime``'s app, as a sender would (200 expected)."""
    _post(runtime, token, [{"labels": {"alertname": "A", "service": "s"}}])


def _post(runtime: Runtime, token: str, alerts: list[dict[str, Any]]) -> None:
    with TestClient(create_app(runtime=runtime), base_url="http://127.0.0.1") as client:
        response = client.post(
            "/api/v2/alerts",
            content=dumps(alerts),
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text


def _members(db: Database) -> dict[str, str]:
    with db.read_session() as session:
        rows = session.execute(
            select(Alert.labels, AlertGroupMember.state).join(
                AlertGroupMember, AlertGroupMember.alert_id == Alert.id
            )
        )
        return {labels["instance"]: state for labels, state in rows}


def test_a_flush_hands_over_its_notifications_claimed_and_a_lost_one_is_sent_after_the_lease(
    pipeline: Pipeline,
) -> None:
    handed: list[outbox.Delivery] = []
    flusher = _flusher(pipeline, handed, live=True)
    pipeline.fire(alertname="DiskFull", service="db", instance="db-1")

    flusher.run_once()

    [row] = _rows(pipeline.db)
    assert [d.id for d in handed] == [row.id]
    assert handed[0].message["data"]["alerts"][0]["labels"]["instance"] == "db-1"
    assert (row.status, row.attempts, row.lease_owner) == ("sending", 1, "worker-a")
    # Held by the worker it was handed to: no other worker sends it meanwhile ...
    now = pipeline.clock.now()
    assert outbox.claim(pipeline.db, worker_id="worker-b", now=now, lease=LEASE, limit=10) == []
    # ... and if that worker died before sending, any worker does once the lease is over.
    pipeline.clock.advance(LEASE + timedelta(seconds=1))
    [again] = outbox.claim(
        pipeline.db, worker_id="worker-b", now=pipeline.clock.now(), lease=LEASE, limit=10
    )
    assert (again.id, again.attempts, again.idempotency_key) == (
        row.id,
        2,
        handed[0].idempotency_key,
    )


def test_intake_flushes_a_group_due_at_once_in_its_own_commit(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    handed: list[outbox.Delivery] = []
    pipeline.runtime.alert_flusher = _flusher(pipeline, handed, live=True)
    _post_one_alert(pipeline.runtime, alert_tokens["responder"])

    [row] = _rows(pipeline.db)
    assert [d.id for d in handed] == [row.id]
    assert (row.status, row.lease_owner) == ("sending", "worker-a")
    group = _group(pipeline.db)
    assert group.next_flush_at is None  # flushed: nothing left for the flusher
    assert group.notify_seq == 1
    assert not pipeline.db.wakeup.pending(pipeline.clock.now(), topic=FLUSH_TOPIC)


def test_intake_leaves_a_group_that_waits_to_the_flusher(
    db: Database, clock: FakeClock, tmp_path: Path, alert_tokens: dict[str, str]
) -> None:
    waiting = Pipeline(make_runtime(db, clock, ALERTS_CONFIG, tmp_path))  # group_wait: 30s
    handed: list[outbox.Delivery] = []
    waiting.runtime.alert_flusher = _flusher(waiting, handed, live=True)
    _post_one_alert(waiting.runtime, alert_tokens["responder"])

    assert handed == []
    assert _rows(db) == []
    assert _group(db).next_flush_at == clock.now() + timedelta(seconds=30)


def test_without_a_running_worker_intake_leaves_flushing_to_the_flusher(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    handed: list[outbox.Delivery] = []
    pipeline.runtime.alert_flusher = _flusher(pipeline, handed, live=False)
    _post_one_alert(pipeline.runtime, alert_tokens["responder"])

    assert handed == []
    assert _group(pipeline.db).next_flush_at == pipeline.clock.now()
    assert pipeline.db.wakeup.pending(pipeline.clock.now(), topic=FLUSH_TOPIC)


def test_a_flush_failing_inside_intake_keeps_the_alerts_and_leaves_the_group_due(
    pipeline: Pipeline, alert_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[outbox.Delivery] = []
    flusher = _flusher(pipeline, handed, live=True)
    pipeline.runtime.alert_flusher = flusher
    real_flush = flusher._flush

    def broken_flush(*args: Any, **kwargs: Any) -> Any:
        real_flush(*args, **kwargs)  # its writes are made, then rolled back
        raise RuntimeError("a bug in the flush")

    monkeypatch.setattr(flusher, "_flush", broken_flush)
    _post_one_alert(pipeline.runtime, alert_tokens["responder"])

    assert [a.labels["alertname"] for a in pipeline.alerts()] == ["A"]
    assert handed == []
    assert _rows(pipeline.db) == []
    assert _group(pipeline.db).next_flush_at == pipeline.clock.now()
    assert pipeline.db.wakeup.pending(pipeline.clock.now(), topic=FLUSH_TOPIC)

    monkeypatch.setattr(flusher, "_flush", real_flush)
    flusher.run_once()  # the flusher's round sends it
    assert len(handed) == 1
    assert [row.status for row in _rows(pipeline.db)] == ["sending"]


def test_a_hand_off_no_running_worker_can_take_goes_back_to_the_outbox(
    pipeline: Pipeline,
) -> None:
    pipeline.runtime.build_worker(worker_id="worker-a")  # built, never run
    flusher = pipeline.runtime.alert_flusher
    assert flusher is not None
    assert not flusher.live()
    pipeline.fire(alertname="DiskFull", service="db")

    flusher.run_once()

    [row] = _rows(pipeline.db)
    assert (row.status, row.attempts, row.lease_owner) == ("pending", 0, None)
    assert pipeline.db.wakeup.pending(pipeline.clock.now(), topic=OUTBOX)
    [claimed] = outbox.claim(
        pipeline.db, worker_id="worker-b", now=pipeline.clock.now(), lease=LEASE, limit=10
    )
    assert claimed.id == row.id


def test_one_request_that_joins_and_resolves_a_due_group_flushes_it_once(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    handed: list[outbox.Delivery] = []
    pipeline.runtime.alert_flusher = _flusher(pipeline, handed, live=True)
    token = alert_tokens["responder"]
    _post(
        pipeline.runtime, token, [{"labels": {"alertname": "A", "service": "s", "instance": "1"}}]
    )
    pipeline.clock.advance(timedelta(minutes=5))  # group_interval: the next beat is now
    ended = (pipeline.clock.now() - timedelta(seconds=1)).isoformat()

    _post(
        pipeline.runtime,
        token,
        [
            {"labels": {"alertname": "A", "service": "s", "instance": "2"}},
            {"labels": {"alertname": "A", "service": "s", "instance": "1"}, "endsAt": ended},
        ],
    )

    first, second = _rows(pipeline.db)
    assert [d.id for d in handed] == [first.id, second.id]
    assert second.idempotency_key.endswith(":2:am")  # the group's second notification
    shown = second.message["data"]["alerts"]
    assert {a["labels"]["instance"]: a["status"] for a in shown} == {
        "1": "resolved",  # the channel sends resolved notices (Alertmanager's default)
        "2": "firing",
    }
    group = _group(pipeline.db)
    assert (group.notify_seq, group.next_flush_at, group.active) == (2, None, True)
    assert _members(pipeline.db) == {"2": "notified"}  # the resolved one is let go


def test_intake_flushes_a_group_another_process_created(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    pipeline.fire(alertname="A", service="s", instance="1")  # in a session of its own
    ingest._group_cache(pipeline.db.engine).ids.clear()  # as in a process that never saw it
    handed: list[outbox.Delivery] = []
    flusher = _flusher(pipeline, handed, live=True)
    flusher.run_once()
    [first] = handed
    pipeline.runtime.alert_flusher = flusher
    pipeline.clock.advance(timedelta(minutes=5))

    _post(
        pipeline.runtime,
        alert_tokens["responder"],
        [{"labels": {"alertname": "A", "service": "s", "instance": "2"}}],
    )

    assert len(handed) == 2
    assert handed[1].idempotency_key == first.idempotency_key.replace(":1:am", ":2:am")
    assert [a["labels"]["instance"] for a in handed[1].message["data"]["alerts"]] == ["1", "2"]
    with pipeline.db.read_session() as session:
        assert (
            len(session.scalars(select(AlertGroup).where(AlertGroup.kind == "notify")).all()) == 1
        )


def test_a_new_group_flushed_in_intake_sends_what_the_flusher_would(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    # Labels out of order, a startsAt in another zone, annotations, a generator URL: the
    # inline flush shows intake's own alerts (not read back) and must say the same.
    alerts = [
        {
            "labels": {"service": "s", "instance": f"i{n}", "alertname": "A"},
            "annotations": {"summary": f"number {n}", "b": "2", "a": "1"},
            "startsAt": "2026-01-05T10:59:58.123456+02:00",
            "generatorURL": f"http://prometheus/graph?{n}",
        }
        for n in (3, 1, 2)
    ]
    sent: list[dict[str, Any]] = []
    for live in (True, False):
        handed: list[outbox.Delivery] = []
        flusher = _flusher(pipeline, handed, live=live)
        pipeline.runtime.alert_flusher = flusher
        _post(pipeline.runtime, alert_tokens["responder"], alerts)
        if not live:
            flusher.run_once()  # the flusher's round reads the group back
        [delivery] = handed
        sent.append(delivery.message["data"])
        with pipeline.db.session() as session, session.begin():  # start again, empty
            session.execute(delete(Notification))
            session.execute(delete(Alert))
            session.execute(delete(AlertGroup))
        ingest._group_cache(pipeline.db.engine).ids.clear()

    inline, read_back = sent
    assert inline == read_back
    assert [a["labels"]["instance"] for a in inline["alerts"]] == ["i1", "i2", "i3"]
    assert inline["alerts"][0]["startsAt"] == "2026-01-05T08:59:58.123456Z"
    assert list(inline["alerts"][0]["annotations"]) == ["a", "b", "summary"]


def _firing(pipeline: Pipeline, instance: str) -> dict[str, Any]:
    """An alert firing for the next hour (past the default resolve timeout)."""
    ends = (pipeline.clock.now() + timedelta(hours=1)).isoformat()
    return {"labels": {"alertname": "A", "service": "s", "instance": instance}, "endsAt": ends}


def test_a_new_group_flushed_in_intake_stores_its_members_as_notified(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    handed: list[outbox.Delivery] = []
    pipeline.runtime.alert_flusher = _flusher(pipeline, handed, live=True)
    token = alert_tokens["responder"]
    _post(pipeline.runtime, token, [_firing(pipeline, n) for n in ("1", "2")])

    assert len(handed) == 1
    assert _members(pipeline.db) == {"1": "notified", "2": "notified"}
    pipeline.clock.advance(timedelta(minutes=5))
    _post(
        pipeline.runtime, token, [{"labels": {"alertname": "A", "service": "s", "instance": "3"}}]
    )
    assert len(handed) == 2  # only the new one is news, as when the members were updated
    assert _members(pipeline.db) == {"1": "notified", "2": "notified", "3": "notified"}


def test_a_silenced_alert_in_a_new_group_stays_news_until_the_silence_ends(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    now = pipeline.clock.now()
    with pipeline.db.session() as session, session.begin():
        silence = silencing.save(
            session,
            matchers=parse_all(['instance="quiet"']),
            starts_at=now,
            ends_at=now + timedelta(minutes=10),
            created_by="rita",
            comment="maintenance",
            now=now,
        ).silence
    handed: list[outbox.Delivery] = []
    flusher = _flusher(pipeline, handed, live=True)
    pipeline.runtime.alert_flusher = flusher
    _post(
        pipeline.runtime,
        alert_tokens["responder"],
        [_firing(pipeline, n) for n in ("loud", "quiet")],
    )

    [first] = handed
    assert [a["labels"]["instance"] for a in first.message["data"]["alerts"]] == ["loud"]
    assert _members(pipeline.db) == {"loud": "notified", "quiet": "new"}
    with pipeline.db.session() as session, session.begin():
        silencing.expire(session, silence_id=silence.id, now=pipeline.clock.now())
    pipeline.clock.advance(timedelta(minutes=5))  # the group's next beat
    with pipeline.db.session() as session, session.begin():
        session.execute(
            update(AlertGroup).values(next_flush_at=pipeline.clock.now())  # as re-evaluation does
        )
    flusher.run_once()
    second = handed[-1]
    assert [a["labels"]["instance"] for a in second.message["data"]["alerts"]] == ["loud", "quiet"]
    assert _members(pipeline.db) == {"loud": "notified", "quiet": "notified"}


def test_a_flush_that_sends_nothing_still_saves_its_group(
    pipeline: Pipeline, alert_tokens: dict[str, str]
) -> None:
    handed: list[outbox.Delivery] = []
    flusher = _flusher(pipeline, handed, live=True)
    pipeline.runtime.alert_flusher = flusher
    _post(pipeline.runtime, alert_tokens["responder"], [_firing(pipeline, "1")])
    pipeline.clock.advance(timedelta(minutes=5))
    due = pipeline.clock.now()
    with pipeline.db.session() as session, session.begin():
        session.execute(update(AlertGroup).values(next_flush_at=due))  # due, nothing new

    [outcome] = flusher.run_once()

    assert (outcome.notified, outcome.reason) == (False, "nothing new")
    assert len(handed) == 1
    assert len(_rows(pipeline.db)) == 1
    group = _group(pipeline.db)
    assert (group.next_flush_at, group.last_flush_at, group.notify_seq) == (None, due, 1)


@pytest.mark.parametrize("groups", [40, 3000])
def test_a_request_that_makes_thousands_of_groups_flushes_them_all_in_its_commit(
    pipeline: Pipeline, alert_tokens: dict[str, str], groups: int
) -> None:
    # On PostgreSQL, 40 groups are saved, joined and enqueued in one statement; 3,000
    # would pass a statement's 65,535 parameters, and take several.
    handed: list[outbox.Delivery] = []
    pipeline.runtime.alert_flusher = _flusher(pipeline, handed, live=True)
    alerts = [
        {"labels": {"alertname": "A", "service": f"s{n}", "instance": str(n)}}
        for n in range(groups)
    ]
    _post(pipeline.runtime, alert_tokens["responder"], alerts)

    rows = _rows(pipeline.db)
    assert sorted(d.id for d in handed) == [row.id for row in rows]
    assert len(rows) == groups
    assert {(row.status, row.lease_owner) for row in rows} == {("sending", "worker-a")}
    assert set(_members(pipeline.db).values()) == {"notified"}
    assert len(_members(pipeline.db)) == groups
    with pipeline.db.read_session() as session:
        due = session.scalars(select(AlertGroup).where(AlertGroup.next_flush_at.is_not(None)))
        assert due.all() == []
        seqs = set(session.scalars(select(AlertGroup.notify_seq)))
    assert seqs == {1}
