"""The routing tree: first matching child wins unless `continue`, children inherit, and
group keys are Alertmanager's groupKey strings."""

from __future__ import annotations

from textwrap import dedent

from opsbook.alerts.routing import routing_tree
from opsbook.config.loader import load_config_text

CONFIG = dedent(
    """\
    service: {name: shop}
    channels:
      - {name: default, kind: console}
      - {name: pager, kind: console}
      - {name: db-team, kind: console}
      - {name: audit, kind: console}
    alerts:
      route:
        channels: [default]
        group_by: [alertname]
        group_wait: 10s
        routes:
          - matchers: ['team="audit"']
            channels: [audit]
            continue: true
          - matchers: ['severity="critical"']
            channels: [pager]
            group_by: [alertname, service]
            routes:
              - matchers: ['service=~"db|cache"']
                channels: [db-team]
          - matchers: ['severity="critical"']
            channels: [default]
            incident: {severity: P1}
    """
)


def _tree():  # type: ignore[no-untyped-def]
    return routing_tree(load_config_text(CONFIG).alerts)


def test_an_alert_no_child_matches_stays_at_the_root() -> None:
    routing = _tree().route({"alertname": "Slow", "severity": "warning"})
    assert [r.channels for r in routing.routes] == [("default",)]
    assert [g.key for g in routing.groups] == ['{}:{alertname="Slow"}']


def test_the_first_matching_child_wins_and_grandchildren_refine() -> None:
    routing = _tree().route({"alertname": "Down", "severity": "critical", "service": "db"})
    assert [r.channels for r in routing.routes] == [("db-team",)]
    route = routing.routes[0]
    # Inherited from the parent: grouping and timing it did not set.
    assert route.group_by == ("alertname", "service")
    assert route.group_wait.total_seconds() == 10
    assert [g.key for g in routing.groups] == [
        '{}/{severity="critical"}/{service=~"db|cache"}:{alertname="Down", service="db"}'
    ]


def test_continue_lets_later_siblings_match_too() -> None:
    routing = _tree().route({"alertname": "Down", "severity": "critical", "team": "audit"})
    assert [r.channels for r in routing.routes] == [("audit",), ("pager",)]


def test_a_later_sibling_with_equal_matchers_is_not_reached_without_continue() -> None:
    routing = _tree().route({"alertname": "Down", "severity": "critical", "service": "api"})
    assert not routing.opens_incidents
    assert [r.channels for r in routing.routes] == [("pager",)]


def test_the_groupkey_of_the_alertmanager_documentation_example() -> None:
    config = dedent(
        """\
        service: {name: shop}
        channels: [{name: sms, kind: console}]
        alerts:
          route:
            channels: [sms]
            routes:
              - matchers: ['severity="critical"']
        """
    )
    routing = routing_tree(load_config_text(config).alerts).route(
        {"alertname": "ProbeFailure", "severity": "critical", "instance": "https://x"}
    )
    assert routing.groups[0].key == '{}/{severity="critical"}:{alertname="ProbeFailure"}'


def test_receivers_name_channels_and_incidents() -> None:
    tree = _tree()
    assert tree.receivers({"alertname": "x", "severity": "critical", "team": "audit"}) == [
        "audit",
        "pager",
    ]


def test_the_routing_example_validates_and_routes_as_its_comments_say() -> None:
    from pathlib import Path

    from opsbook.config import load_config

    example = Path(__file__).resolve().parents[2] / "examples" / "alerts-routing.yaml"
    tree = routing_tree(load_config(example, env={}).alerts)
    paged = tree.route(
        {"alertname": "HighErrorRate", "severity": "critical", "service": "checkout"}
    )
    assert paged.opens_incidents
    assert [r.channels for r in paged.routes] == [("incidents",)]  # inherited: it notifies too
    disk = tree.route({"alertname": "DiskAbove80Percent", "service": "db"})
    assert [r.channels for r in disk.routes] == [("incidents", "remediation")]
    db = tree.route({"alertname": "ReplicationLag", "team": "db", "cluster": "main"})
    assert [g.key for g in db.groups] == [
        '{}/{team="db"}:{alertname="ReplicationLag", cluster="main"}'
    ]


def test_routing_is_remembered_only_across_labels_no_route_looks_at() -> None:
    tree = _tree()
    assert tree.relevant == ("alertname", "service", "severity", "team")
    first = tree.route({"alertname": "Down", "severity": "critical", "service": "db", "pod": "a"})
    # Another instance of the same alert shares the entry...
    assert (
        tree.route({"alertname": "Down", "severity": "critical", "service": "db", "pod": "b"})
        is first
    )
    # ...but any label a matcher or a group_by reads routes afresh.
    other = tree.route({"alertname": "Down", "severity": "critical", "service": "web", "pod": "a"})
    assert [r.channels for r in other.routes] == [("pager",)]
    assert [g.key for g in other.groups] == [
        '{}/{severity="critical"}:{alertname="Down", service="web"}'
    ]
    assert [g.key for g in tree.route({"alertname": "Down", "severity": "critical"}).groups] == [
        '{}/{severity="critical"}:{alertname="Down"}'
    ]
    empty = tree.route({"alertname": "Down", "severity": "critical", "service": ""})
    assert [g.key for g in empty.groups] == [
        '{}/{severity="critical"}:{alertname="Down", service=""}'
    ]


def test_grouping_by_all_labels_remembers_each_label_set() -> None:
    config = CONFIG.replace("group_by: [alertname]\n", "group_by: ['...']\n")
    tree = routing_tree(load_config_text(config).alerts)
    assert tree.relevant is None
    one = tree.route({"alertname": "Slow", "pod": "a"})
    two = tree.route({"alertname": "Slow", "pod": "b"})
    assert [g.key for g in one.groups] == ['{}:{alertname="Slow", pod="a"}']
    assert [g.key for g in two.groups] == ['{}:{alertname="Slow", pod="b"}']
