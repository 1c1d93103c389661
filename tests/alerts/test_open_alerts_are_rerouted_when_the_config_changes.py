"""A config reload routes the alerts that are already firing again, as Alertmanager's
rebuilt dispatcher does: they join the groups the new tree puts them in, and leave the
old ones without any resolved notice (they did not resolve)."""

from __future__ import annotations

from pathlib import Path

from alerts.pipeline import ALERTS_CONFIG, Pipeline
from opsbook.alerts.reroute import reroute
from opsbook.alerts.routing import routing_tree

BY_INSTANCE = ALERTS_CONFIG.replace(
    "group_by: [alertname, service]", "group_by: [alertname, service, instance]"
)


def _reload(pipeline: Pipeline, config_text: str) -> None:
    assert pipeline.runtime.config_path is not None
    Path(pipeline.runtime.config_path).write_text(config_text)
    pipeline.runtime.reload_config()


def test_a_reload_moves_firing_alerts_into_the_groups_of_the_new_group_by(
    pipeline: Pipeline,
) -> None:
    pipeline.fire(alertname="Down", service="api", instance="a")
    pipeline.fire(alertname="Down", service="api", instance="b")
    pipeline.advance(30)
    [first] = pipeline.notifications("am")
    assert first["groupKey"] == '{}:{alertname="Down", service="api"}'

    _reload(pipeline, BY_INSTANCE)
    pipeline.advance(1)  # the reroute job; the alerts started long ago: no group_wait

    later = pipeline.notifications("am")[1:]
    assert sorted(n["groupKey"] for n in later) == [
        '{}:{alertname="Down", instance="a", service="api"}',
        '{}:{alertname="Down", instance="b", service="api"}',
    ]
    assert all(n["status"] == "firing" for n in later)
    pipeline.advance(4 * 3600)  # past repeat_interval: only the new groups repeat
    repeated = {n["groupKey"] for n in pipeline.notifications("am")[3:]}
    assert repeated == {
        '{}:{alertname="Down", instance="a", service="api"}',
        '{}:{alertname="Down", instance="b", service="api"}',
    }


def test_an_alert_whose_route_stops_notifying_leaves_its_group_silently(
    pipeline: Pipeline,
) -> None:
    pipeline.fire(alertname="Down", service="api", instance="a")
    pipeline.advance(30)
    assert len(pipeline.notifications("am")) == 1

    pipeline.reconfigure(ALERTS_CONFIG.replace("    channels: [am]\n", "    channels: []\n"))
    with pipeline.db.session() as session, session.begin():
        added, dropped = reroute(
            session, tree=routing_tree(pipeline.config.alerts), now=pipeline.clock.now()
        )
    assert (added, dropped) == (0, 1)
    pipeline.advance(4 * 3600)
    assert len(pipeline.notifications("am")) == 1  # no resolved notice, no repeat


def test_rerouting_an_unchanged_tree_changes_nothing(pipeline: Pipeline) -> None:
    pipeline.fire(alertname="Down", service="api", instance="a")
    pipeline.advance(30)
    with pipeline.db.session() as session, session.begin():
        assert reroute(
            session, tree=routing_tree(pipeline.config.alerts), now=pipeline.clock.now()
        ) == (0, 0)
    pipeline.advance(60)
    assert len(pipeline.notifications("am")) == 1
