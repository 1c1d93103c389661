"""The routing tree, compiled: which routes an alert takes, and the groups it joins.

Matching is Alertmanager's: an alert enters a route when the route's matchers hold; it
then tries the children in order and stops at the first that matches unless that child
has ``continue: true``; a route none of whose children matched is itself a match.
Children inherit every key they leave unset (channels, incident, grouping, timing).

A route's ``key`` is Alertmanager's (``{}/{severity="critical"}``), and a group's key
is ``<route key>:<group labels>``, exactly as Alertmanager puts it in ``groupKey``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from opsbook.alerts.config import AlertsConfig, IncidentRouteConfig, InhibitRuleConfig, RouteConfig
from opsbook.alerts.labels import label_set_string
from opsbook.alerts.matchers import Matcher, matchers_string

DEFAULT_GROUP_BY = ("alertname",)
DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)
ALL_LABELS = "..."
_MEMO_SIZE = 20_000


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """One compiled node; ``id`` tells siblings with equal matchers apart."""

    id: str
    key: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    channels: tuple[str, ...]
    incident: IncidentRouteConfig | None
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    children: tuple[Route, ...] = ()

    @property
    def notifies(self) -> bool:
        return bool(self.channels)

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.group_by == (ALL_LABELS,):
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}

    def incident_group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        assert self.incident is not None
        names = self.incident.group_by if self.incident.group_by is not None else self.group_by
        if names == (ALL_LABELS,):
            return dict(labels)
        return {name: labels[name] for name in names if name in labels}

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        if not all(m.matches(labels) for m in self.matchers):
            return []
        found: list[Route] = []
        for child in self.children:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]


@dataclass(frozen=True, slots=True)
class GroupRef:
    """A group an alert belongs to: notification timing, or one incident."""

    kind: str  # "notify" | "incident"
    route: Route
    key: str
    labels: Mapping[str, str]
    key_hash: str


def group_key_hash(kind: str, route_id: str, key: str) -> str:
    return hashlib.sha256(f"{kind}\x00{route_id}\x00{key}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Routing:
    """What the pipeline needs to know of an alert's labels, memoised by label set."""

    routes: tuple[Route, ...]
    groups: tuple[GroupRef, ...]

    @property
    def opens_incidents(self) -> bool:
        return any(ref.kind == "incident" for ref in self.groups)


@dataclass(eq=False)
class RoutingTree:
    root: Route
    by_id: dict[str, Route]
    inhibit_rules: tuple[InhibitRuleConfig, ...] = ()
    # The label names routing can depend on (matchers and group_by of every route), or
    # None when some route groups by all labels: alerts that agree on these route alike.
    relevant: tuple[str, ...] | None = None
    _memo: dict[tuple[Any, ...], Routing] = field(default_factory=dict)
    _groups: dict[tuple[str, str, tuple[tuple[str, str], ...]], GroupRef] = field(
        default_factory=dict
    )

    def _group(self, kind: str, route: Route, labels: dict[str, str]) -> GroupRef:
        # Many alerts share a group: its key and hash are computed once per group.
        memo = (kind, route.id, tuple(labels.items()))
        found = self._groups.get(memo)
        if found is None:
            key = f"{route.key}:{label_set_string(labels)}"
            found = GroupRef(kind, route, key, labels, group_key_hash(kind, route.id, key))
            if len(self._groups) >= _MEMO_SIZE:
                self._groups.clear()
            self._groups[memo] = found
        return found

    def route(self, labels: Mapping[str, str]) -> Routing:
        # Memoised by the labels that can change the outcome, so distinct alerts of one
        # group (new instances, say) share one entry; a missing label (None) and an
        # empty one are told apart, as group labels leave missing ones out.
        relevant = self.relevant
        items: tuple[Any, ...] = (
            tuple(sorted(labels.items()))
            if relevant is None
            else tuple([labels.get(name) for name in relevant])
        )
        found = self._memo.get(items)
        if found is not None:
            return found
        routes = tuple(self.root.match(labels))
        groups: list[GroupRef] = []
        for route in routes:
            if route.notifies:
                groups.append(self._group("notify", route, route.group_labels(labels)))
            if route.incident is not None:
                groups.append(self._group("incident", route, route.incident_group_labels(labels)))
        found = Routing(routes, tuple(groups))
        if len(self._memo) >= _MEMO_SIZE:
            self._memo.clear()
        self._memo[items] = found
        return found

    def receivers(self, labels: Mapping[str, str]) -> list[str]:
        """Receiver names, as the v2 API lists them: each channel, and ``incidents``."""
        names: list[str] = []
        for route in self.route(labels).routes:
            names.extend(route.channels)
            if route.incident is not None:
                names.append("incidents")
        return list(dict.fromkeys(names)) or ["none"]


def _compile(config: RouteConfig, *, parent: Route | None, index: str) -> Route:
    set_fields = config.model_fields_set

    def inherit(name: str, default: object) -> object:
        value = getattr(config, name)
        if name in set_fields and (value is not None or name == "incident"):
            return value
        return getattr(parent, name) if parent is not None else default

    key = (parent.key + "/" if parent is not None else "") + matchers_string(config.matchers)
    node = Route(
        id=f"{index}:{key}",
        key=key,
        matchers=tuple(config.matchers),
        continue_=config.continue_,
        channels=tuple(inherit("channels", ()) or ()),  # type: ignore[arg-type]
        incident=inherit("incident", None),  # type: ignore[arg-type]
        group_by=tuple(inherit("group_by", DEFAULT_GROUP_BY)),  # type: ignore[arg-type]
        group_wait=inherit("group_wait", DEFAULT_GROUP_WAIT),  # type: ignore[arg-type]
        group_interval=inherit("group_interval", DEFAULT_GROUP_INTERVAL),  # type: ignore[arg-type]
        repeat_interval=inherit("repeat_interval", DEFAULT_REPEAT_INTERVAL),  # type: ignore[arg-type]
    )
    children = tuple(
        _compile(child, parent=node, index=f"{index}.{position}")
        for position, child in enumerate(config.routes)
    )
    object.__setattr__(node, "children", children)
    return node


# The last few configs (a reload makes a new one) and their trees; the config is kept
# with its tree so that its id() cannot be reused while it is cached.
_TREES: dict[int, tuple[AlertsConfig, RoutingTree]] = {}
_KEEP_TREES = 4
_LOCK = threading.Lock()


def _relevant_names(routes: Iterable[Route]) -> tuple[str, ...] | None:
    names: set[str] = set()
    for route in routes:
        names.update(m.name for m in route.matchers)
        group_by = list(route.group_by)
        if route.incident is not None and route.incident.group_by is not None:
            group_by += route.incident.group_by
        if ALL_LABELS in group_by:
            return None
        names.update(group_by)
    return tuple(sorted(names))


def routing_tree(config: AlertsConfig) -> RoutingTree:
    """The compiled tree of a loaded config, built once per config object."""
    with _LOCK:
        cached = _TREES.get(id(config))
        tree = cached[1] if cached is not None and cached[0] is config else None
        if tree is None:
            root = _compile(config.route, parent=None, index="0")
            by_id: dict[str, Route] = {}
            stack = [root]
            while stack:
                node = stack.pop()
                by_id[node.id] = node
                stack.extend(node.children)
            tree = RoutingTree(
                root=root,
                by_id=by_id,
                inhibit_rules=config.inhibit_rules,
                relevant=_relevant_names(by_id.values()),
            )
            if len(_TREES) >= _KEEP_TREES:
                _TREES.pop(next(iter(_TREES)))
            _TREES[id(config)] = (config, tree)
        return tree
