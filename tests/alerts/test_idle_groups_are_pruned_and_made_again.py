"""Notify groups that have been empty and idle for an hour are deleted by the hourly
prune; an alert with their labels later makes a new group, even in a process that still
remembers the old one's id."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from alerts.pipeline import Pipeline
from opsbook.alerts.contract import AlertInput
from opsbook.alerts.models import Alert, AlertGroup, AlertGroupMember
from opsbook.alerts.sweep import IDLE_GROUP_TTL, prune_groups


def _prune(pipeline: Pipeline) -> int:
    with pipeline.db.session() as session, session.begin():
        return prune_groups(session, now=pipeline.clock.now())


def _notify_groups(pipeline: Pipeline) -> dict[str, AlertGroup]:
    with pipeline.db.read_session() as session:
        rows = session.scalars(select(AlertGroup).where(AlertGroup.kind == "notify"))
        return {group.labels["service"]: group for group in rows}


def _empty_group(pipeline: Pipeline, service: str) -> None:
    """A group that notified an alert, then announced its resolution: empty, no timer."""
    pipeline.fire(alertname="Down", service=service, instance="a")
    pipeline.advance(30)  # group_wait
    pipeline.resolve(alertname="Down", service=service, instance="a")
    pipeline.advance(5 * 60)  # group_interval: the all-clear
    group = _notify_groups(pipeline)[service]
    assert (group.active, group.next_flush_at, group.repeat_at) == (False, None, None)


def test_the_hourly_prune_deletes_an_empty_idle_group_and_a_later_alert_makes_a_new_one(
    pipeline: Pipeline,
) -> None:
    _empty_group(pipeline, "api")
    _empty_group(pipeline, "newest")  # the newest row stays: its id must never be reused
    old_id = _notify_groups(pipeline)["api"].id
    # Idle for an hour, then at least one hourly alerts.prune run.
    pipeline.advance(IDLE_GROUP_TTL.total_seconds() + 3600)

    assert list(_notify_groups(pipeline)) == ["newest"]

    # This process cached the deleted group's id; the alert still lands, in a new group.
    sent_before = len(pipeline.notifications("am"))
    pipeline.fire(alertname="Down", service="api", instance="b")
    pipeline.advance(30)
    group = _notify_groups(pipeline)["api"]
    assert group.id > _notify_groups(pipeline)["newest"].id > old_id
    assert pipeline.notification_keys()[-1] == f"alerts:{group.id}:1:am"
    [latest] = pipeline.notifications("am")[sent_before:]
    assert [a["labels"]["instance"] for a in latest["alerts"]] == ["b"]


def test_groups_in_use_or_recently_emptied_are_kept(pipeline: Pipeline) -> None:
    _empty_group(pipeline, "idle")
    _empty_group(pipeline, "idle too")
    pipeline.fire(alertname="Down", service="firing", instance="a")  # notified, repeats
    pipeline.advance(30)
    _empty_group(pipeline, "recent")  # emptied about six minutes after "idle"
    pipeline.fire(alertname="Down", service="waiting", instance="a")  # its flush pending
    # The clock alone (no job runs): "idle" is now empty for over an hour, "recent" not.
    pipeline.clock.advance(IDLE_GROUP_TTL - timedelta(minutes=3))

    assert _prune(pipeline) == 2
    assert sorted(_notify_groups(pipeline)) == ["firing", "recent", "waiting"]


def test_one_batch_joins_a_live_group_and_remakes_a_pruned_one(pipeline: Pipeline) -> None:
    # On PostgreSQL the statement that locks the live group writes its member, and skips
    # the member of the group that is gone; that one follows, in the group made again.
    _empty_group(pipeline, "gone")
    wait = IDLE_GROUP_TTL.total_seconds() + 3600
    pipeline.fire(ends_in=wait * 2, alertname="Down", service="live", instance="a")
    pipeline.advance(wait)  # "gone" is pruned; "live" still fires
    assert sorted(_notify_groups(pipeline)) == ["live"]

    pipeline.send(
        *(
            AlertInput(labels={"alertname": "Down", "service": service, "instance": name})
            for service, name in (("live", "b"), ("gone", "c"))
        )
    )

    groups = _notify_groups(pipeline)
    assert sorted(groups) == ["gone", "live"]
    assert _members(pipeline, groups["live"].id) == ["a", "b"]
    assert _members(pipeline, groups["gone"].id) == ["c"]


def _members(pipeline: Pipeline, group_id: int) -> list[str]:
    with pipeline.db.read_session() as session:
        rows = session.execute(
            select(Alert.labels)
            .join(AlertGroupMember, AlertGroupMember.alert_id == Alert.id)
            .where(AlertGroupMember.group_id == group_id)
        )
        return sorted(labels["instance"] for (labels,) in rows)
